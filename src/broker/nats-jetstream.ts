/**
 * The JetStream objects NatsBroker stands on, created or updated to match its
 * options whenever it connects or subscribes: one stream per system, a durable pull
 * consumer per queue group and topic, an ephemeral one per plain subscriber. Every
 * replica of a service runs this at once, so each step tolerates another having
 * done it first.
 */
import { createHash } from 'node:crypto';
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

/** How long the server keeps an ephemeral consumer nobody pulls from (a subscriber that died). */
const ephemeralInactiveMs = 30_000;

export interface StreamLimits {
  readonly maxAgeMs: number;
  readonly duplicateWindowMs: number;
  readonly replicas: number;
}

/** What every consumer of a broker shares. */
export interface ConsumerSettings {
  readonly stream: string;
  readonly ackWaitMs: number;
  readonly maxDeliver: number;
  readonly prefetch: number;
  readonly newGroupsStartAt: 'new' | 'all';
}

/** One subscription's consumer: durable for a queue group, ephemeral otherwise. */
export interface ConsumerSpec {
  readonly name: string;
  readonly topic: string;
  readonly subject: string;
  readonly ephemeral: boolean;
}

/** Durable consumer name of a queue group on a topic: readable, and unique per (queue, topic). */
export function durableName(queue: string, topic: string): string {
  const hash = createHash('sha256').update(topic).digest('hex').slice(0, 8);
  return `${queue}_${topic.replaceAll('.', '_')}_${hash}`;
}

/** Creates `stream` holding `subject`, or updates its limits and adds `subject` to those it holds. */
export async function ensureStream(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  limits: StreamLimits,
): Promise<void> {
  const settings = {
    max_age: nanos(limits.maxAgeMs),
    duplicate_window: nanos(limits.duplicateWindowMs),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const info = await jsm.streams.info(stream);
      const subjects = info.config.subjects ?? [];
      await jsm.streams.update(stream, {
        ...settings,
        subjects: subjects.includes(subject) ? subjects : [...subjects, subject],
      });
      return;
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.StreamNotFound)) throw error;
    }
    const config: Partial<StreamConfig> & { name: string } = {
      name: stream,
      subjects: [subject],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      num_replicas: limits.replicas,
      ...settings,
    };
    try {
      await jsm.streams.add(config);
      return;
    } catch (error) {
      // Another process created it meanwhile: go round once more to update it.
      if (attempt > 0) throw error;
    }
  }
}

/** Creates the consumer `spec` names, or updates a queue group's existing one to `settings`. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  settings: ConsumerSettings,
  spec: ConsumerSpec,
): Promise<void> {
  const editable: Partial<ConsumerConfig> = {
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxDeliver,
    max_ack_pending: Math.max(1000, settings.prefetch * 4),
  };
  if (!spec.ephemeral) {
    try {
      await jsm.consumers.info(settings.stream, spec.name);
      await jsm.consumers.update(settings.stream, spec.name, editable);
      return;
    } catch (error) {
      if (!isApiError(error, JetStreamApiCodes.ConsumerNotFound)) throw error;
    }
  }
  const config: Partial<ConsumerConfig> = {
    ...editable,
    ...(spec.ephemeral
      ? { name: spec.name, inactive_threshold: nanos(ephemeralInactiveMs) }
      : { durable_name: spec.name, description: `berth queue group for ${spec.topic}` }),
    filter_subject: spec.subject,
    ack_policy: AckPolicy.Explicit,
    deliver_policy:
      !spec.ephemeral && settings.newGroupsStartAt === 'all' ? DeliverPolicy.All : DeliverPolicy.New,
  };
  try {
    await jsm.consumers.add(settings.stream, config);
  } catch (error) {
    // A replica of the same group created it at the same moment.
    if (spec.ephemeral) throw error;
    await jsm.consumers.info(settings.stream, spec.name);
  }
}

function isApiError(error: unknown, code: number): boolean {
  return error instanceof JetStreamApiError && error.code === code;
}
