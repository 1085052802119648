/**
 * The sending side of the direct broker: POSTs an event to another broker's
 * delivery endpoint (direct-protocol.ts) and reads the answer as an Outcome.
 * Connections are pooled per target by undici, loaded by the first delivery:
 * ~10 MB that a process which only subscribes never needs.
 */
import type { Agent } from 'undici';
import type { Logger } from '../log/logger.ts';
import type { BrokerEvent } from './broker.ts';
import { bearer, deliverPath, type Outcome, outcomeByStatus, queueHeader } from './direct-protocol.ts';

export interface DeliveryClientOptions {
  /** Sent with every delivery; undefined: none (the receivers then must not ask for one). */
  readonly token: string | undefined;
  /** How long one delivery (the receiver's handler included) may take. */
  readonly deliveryTimeoutMs: number;
  readonly logger: Logger;
}

export class DeliveryClient {
  readonly #options: DeliveryClientOptions;
  #agent: Promise<Agent> | undefined;

  constructor(options: DeliveryClientOptions) {
    this.#options = options;
  }

  /** Delivers `body` (the JSON of `event`) to the broker at `address`; a failure to reach it is `unavailable`. */
  async deliver(
    address: string,
    queue: string | undefined,
    event: BrokerEvent,
    body: string,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const where = { eventId: event.id, topic: event.topic, queue, target: address };
    try {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (queue !== undefined) headers[queueHeader] = queue;
      if (this.#options.token !== undefined) headers.authorization = bearer(this.#options.token);
      const response = await (await this.#agentFor()).request({
        origin: `http://${address}`,
        path: deliverPath,
        method: 'POST',
        headers,
        body,
        signal,
      });
      await response.body.dump();
      const outcome = outcomeByStatus[response.statusCode] ?? 'rejected';
      if (outcome !== 'ack') {
        this.#options.logger.debug({ ...where, status: response.statusCode }, 'delivery not acknowledged');
      }
      return outcome;
    } catch (error) {
      this.#options.logger.debug({ err: error, ...where }, 'delivery failed');
      return 'unavailable';
    }
  }

  async close(): Promise<void> {
    await (await this.#agent)?.close();
  }

  #agentFor(): Promise<Agent> {
    const timeout = this.#options.deliveryTimeoutMs;
    this.#agent ??= import('undici').then(
      ({ Agent }) =>
        new Agent({
          keepAliveTimeout: 30_000,
          connections: 16,
          headersTimeout: timeout,
          bodyTimeout: timeout,
          connectTimeout: 5_000,
        }),
    );
    return this.#agent;
  }
}
