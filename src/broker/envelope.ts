/**
 * The event envelope both brokers carry: JSON `{id, topic, data, publishedAt,
 * headers}`. Built and checked here once, so an event published through one
 * broker reads the same through the other.
 */
import { randomUUID } from 'node:crypto';
import { Code, ConnectError } from '../errors/berth-error.ts';
import type { BrokerEvent, PublishInput } from './broker.ts';
import { checkTopic } from './names.ts';

/** The event for `input` on `topic`, and its JSON; data that JSON cannot carry is InvalidArgument. */
export function encodeEvent(topic: string, input: PublishInput): { event: BrokerEvent; body: string } {
  const event: BrokerEvent = {
    id: input.id ?? randomUUID(),
    topic,
    data: input.data ?? null,
    publishedAt: input.publishedAt ?? new Date().toISOString(),
    headers: { ...input.headers },
  };
  try {
    return { event, body: JSON.stringify(event) };
  } catch (error) {
    throw new ConnectError(`event data is not JSON-serialisable: ${String(error)}`, Code.InvalidArgument);
  }
}

/** Parses a received event; undefined when the text is not one. */
export function parseEvent(body: string): BrokerEvent | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const event = value as Record<string, unknown>;
  if (typeof event.id !== 'string' || event.id === '') return undefined;
  if (typeof event.topic !== 'string' || typeof event.publishedAt !== 'string') return undefined;
  if (!('data' in event)) return undefined;
  const headers = event.headers ?? {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return undefined;
  if (!Object.values(headers).every((v) => typeof v === 'string')) return undefined;
  try {
    checkTopic(event.topic);
  } catch {
    return undefined;
  }
  return {
    id: event.id,
    topic: event.topic,
    data: event.data,
    publishedAt: event.publishedAt,
    headers: headers as Record<string, string>,
  };
}
