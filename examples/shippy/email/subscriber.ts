/**
 * What the email service does with `user.created`: send the welcome mail once per
 * event. Brokers deliver at least once, so the send goes through `effectOnce`: the
 * event id is recorded after the mail is sent, and a redelivered event finds it
 * and is dropped. No transaction is open while SMTP answers. If sending fails
 * nothing is recorded and the handler throws, so the broker redelivers later; the
 * rare repeat (a crash right after sending) carries the same Message-ID and `.eml`
 * name, so mail systems and the outbox folder keep one.
 */
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import type { Logger } from 'berth';
import type { EventHandler } from 'berth/broker';
import { effectOnce, ensureProcessedTable } from 'berth/broker';
import type { Migration } from 'berth/store';
import type pg from 'pg';
import { UserCreatedSchema } from '../gen/shippy/user/v1/user_pb.js';
import type { Mailer } from './mailer.ts';
import { renderWelcome } from './welcome.ts';

export const topic = 'user.created';
export const queue = 'email';
/** Consumer name in the processed-events table. */
const consumer = 'email.welcome';

export const migrations: readonly Migration[] = [
  // Unqualified: migrations run with search_path set to this schema.
  { id: '001_processed_events', run: (tx) => ensureProcessedTable(tx) },
];

export interface WelcomeSubscriberOptions {
  readonly pool: pg.Pool;
  readonly schema: string;
  readonly mailer: Mailer;
  readonly from: string;
  readonly logger: Logger;
}

export function welcomeSubscriber(options: WelcomeSubscriberOptions): EventHandler {
  const { pool, schema, mailer, logger } = options;
  return async (event) => {
    let user: ReturnType<typeof fromJson<typeof UserCreatedSchema>>;
    try {
      user = fromJson(UserCreatedSchema, event.data as JsonValue, { ignoreUnknownFields: true });
    } catch (error) {
      // Redelivering cannot fix a malformed event: report it and acknowledge.
      logger.error(
        { eventId: event.id, err: error },
        'dropping a user.created event that is not a UserCreated',
      );
      return;
    }
    if (user.email === '') {
      logger.error({ eventId: event.id, userId: user.id }, 'dropping a user.created event without an email');
      return;
    }
    const sent = await effectOnce(
      pool,
      consumer,
      event,
      async () => {
        const mail = renderWelcome(user);
        await mailer.send({ id: event.id, from: options.from, to: user.email, ...mail });
      },
      { schema },
    );
    if (sent) logger.info({ eventId: event.id, userId: user.id }, 'welcome mail sent');
    else logger.info({ eventId: event.id, userId: user.id }, 'duplicate user.created dropped');
  };
}
