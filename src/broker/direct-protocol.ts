/**
 * The direct broker's delivery protocol, shared by the side that sends a delivery
 * (direct-delivery-client.ts) and the side that serves it (direct-delivery-server.ts):
 *
 *   POST /berth/broker/v1/deliver
 *   content-type: application/json      body: the event envelope (envelope.ts)
 *   berth-queue: <group>                only for a queue group's delivery
 *   authorization: Bearer <token>       the system's broker token, when it has one
 *
 *   200 ack · 500 nack (the handler threw) · 404 gone (no such subscription here)
 *   503 unavailable (closing) · 401 no or wrong token · 400 malformed · 413 too large
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/** Registry service name under which direct brokers with subscriptions register. */
export const directBrokerServiceName = 'berth.broker';
/** Path of the delivery endpoint every direct broker serves. */
export const deliverPath = '/berth/broker/v1/deliver';
/** Request header naming the queue group a delivery is for; absent for plain subscribers. */
export const queueHeader = 'berth-queue';

/** ack: handler resolved. nack: handler threw. gone: no such subscription there. */
export type Outcome = 'ack' | 'nack' | 'gone' | 'unavailable' | 'unauthorized' | 'rejected';

export const outcomeByStatus: Readonly<Record<number, Outcome>> = {
  200: 'ack',
  500: 'nack',
  404: 'gone',
  503: 'unavailable',
  401: 'unauthorized',
};

export const statusByOutcome: Readonly<Record<Outcome, number>> = {
  ack: 200,
  nack: 500,
  gone: 404,
  unavailable: 503,
  unauthorized: 401,
  rejected: 400,
};

/** `topic\0queue`: one key per subscription kind. */
export function subscriptionKey(topic: string, queue: string | undefined): string {
  return `${topic}\u0000${queue ?? ''}`;
}

/** The `authorization` header value a delivery carries. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/**
 * Whether an `authorization` header carries `token`. Both sides are hashed first, so
 * timingSafeEqual compares equal lengths and the time taken tells nothing about
 * how much of a guess was right.
 */
export function carriesToken(header: string | undefined, token: string): boolean {
  if (header === undefined) return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(header), digest(bearer(token)));
}
