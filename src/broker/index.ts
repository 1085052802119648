/**
 * The broker's public surface: the seam (broker.ts) and the outbox and dedupe
 * helpers that make delivery at least once and effectively once. The two
 * implementations are subpaths of their own (`berth/broker/direct`,
 * `berth/broker/nats`), so a service loads only the one it picks: the NATS client
 * and undici are ~12 MB of RSS.
 */

export { type SqlClient, type SqlPool, type SqlResult, withTransaction } from '../store/sql.ts';
export type {
  Broker,
  BrokerEvent,
  EventHandler,
  PublishInput,
  SubscribeOptions,
  Subscription,
} from './broker.ts';
export {
  effectOnce,
  ensureProcessedTable,
  type HandleOnceOptions,
  handleOnce,
  pruneProcessed,
} from './dedupe.ts';
// Types only (erased at run time, so neither client is loaded): the classes are in /direct and /nats.
export type { DirectBrokerOptions } from './direct-broker.ts';
export { type DurableGroups, FileDurableGroups, MemoryDurableGroups } from './durable-groups.ts';
export type { NatsBrokerOptions } from './nats-broker.ts';
export {
  type EnqueueOptions,
  enqueue,
  ensureOutboxTable,
  OutboxRelay,
  type OutboxRelayOptions,
} from './outbox.ts';
