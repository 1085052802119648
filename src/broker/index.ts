/**
 * The broker's public surface: the seam (broker.ts), its two implementations, and
 * the outbox and dedupe helpers that make delivery at least once and effectively once.
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
export {
  type AdvertisedSubscriber,
  type AdvertisedSubscription,
  DirectBroker,
  type DirectBrokerOptions,
  directBrokerServiceName,
} from './direct-broker.ts';
export { type DurableGroups, FileDurableGroups, MemoryDurableGroups } from './durable-groups.ts';
export { durableName, NatsBroker, type NatsBrokerOptions } from './nats-broker.ts';
export {
  type EnqueueOptions,
  enqueue,
  ensureOutboxTable,
  OutboxRelay,
  type OutboxRelayOptions,
} from './outbox.ts';
