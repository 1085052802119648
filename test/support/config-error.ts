/** For tests of configuration mistakes: the message users would read. */
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/config-error.ts';

/** The ConfigError's message (fails if `fn` succeeds or throws something else). */
export function configErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected a ConfigError');
}
