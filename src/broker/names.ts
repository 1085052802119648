/**
 * Topic and queue-group names, checked once at the edge of every broker. Both
 * brokers accept the same names so a service can move from the embedded broker to
 * NATS without renaming: a topic is dot-separated tokens (a NATS subject without
 * wildcards, also a safe folder name); a queue group is one token (a NATS consumer
 * name).
 */
import { Code, ConnectError } from '../errors/berth-error.ts';

const token = '[A-Za-z0-9_-]+';
const topicPattern = new RegExp(`^${token}(\\.${token})*$`);
const queuePattern = new RegExp(`^${token}$`);
const maxLength = 200;

export function checkTopic(topic: string): void {
  if (typeof topic !== 'string' || topic.length > maxLength || !topicPattern.test(topic)) {
    throw new ConnectError(
      `invalid topic ${JSON.stringify(topic)}: expected dot-separated tokens of letters, digits, "_" or "-"`,
      Code.InvalidArgument,
    );
  }
}

/** Whether `name` is a valid queue group name, for input that is dropped rather than refused. */
export function isQueue(name: string): boolean {
  return name.length <= maxLength && queuePattern.test(name);
}

export function checkQueue(queue: string): void {
  if (typeof queue !== 'string' || queue.length > maxLength || !queuePattern.test(queue)) {
    throw new ConnectError(
      `invalid queue group ${JSON.stringify(queue)}: expected letters, digits, "_" or "-"`,
      Code.InvalidArgument,
    );
  }
}

/**
 * What every broker checks before it subscribes: valid names, not aborted, not
 * closing. Returns the queue group, if any.
 */
export function checkSubscribe(
  topic: string,
  options: { readonly queue?: string; readonly signal?: AbortSignal },
  closing: boolean,
): string | undefined {
  checkTopic(topic);
  if (options.queue !== undefined) checkQueue(options.queue);
  options.signal?.throwIfAborted();
  if (closing) throw new ConnectError('broker is closed', Code.FailedPrecondition);
  return options.queue;
}
