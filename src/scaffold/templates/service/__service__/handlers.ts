/**
 * __Service__Service's methods: check the request, do the work, answer. A mistake
 * is `fail(Code.X, message)`, which callers get as that code (the gateway's /rpc
 * as the matching HTTP status: InvalidArgument → 400).
 */
import type { ServiceImpl } from '@connectrpc/connect';
import { Code, fail } from 'berth';
// @if nats
import type { Broker } from 'berth/broker';
// @end
import type { __Service__Service } from '../gen/__system_pkg__/__service_pkg__/v1/__service_pkg___pb.js';

// @if nats
/** What Hello publishes; subscribe with `broker.subscribe(greetedTopic, handler, { queue })`. */
export const greetedTopic = '__service__.greeted';

// @end
// @if postgres
/** Greetings per name: in Postgres in the service (repository.ts), in memory in tests. */
export interface GreetingCounter {
  /** Records one greeting of `name`; resolves to how many it has had, this one included. */
  record(name: string): Promise<number>;
}

// @end
export interface __Service__Dependencies {
  /** How to greet: the `greeting` setting. */
  readonly greeting: string;
  // @if postgres
  readonly greetings: GreetingCounter;
  // @end
  // @if nats
  readonly broker: Broker;
  // @end
}

/** Every method of __Service__Service. */
type Handlers = ServiceImpl<typeof __Service__Service>;

export function __serviceVar__Handlers(deps: __Service__Dependencies): Handlers {
  return {
    async hello(request) {
      const name = request.name.trim();
      if (name === '') fail(Code.InvalidArgument, 'name must not be empty');
      const message = `${deps.greeting}, ${name}!`;
      // @if postgres
      const count = await deps.greetings.record(name);
      // @end
      // @if nats
      // Published once the work is done. To publish exactly when a database write
      // commits, even across crashes, use the outbox of berth/broker (enqueue, OutboxRelay).
      await deps.broker.publish(greetedTopic, { data: { name } });
      // @end
      return {
        message,
        // @if postgres
        count,
        // @end
      };
    },
  };
}
