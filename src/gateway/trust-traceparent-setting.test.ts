import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { GatewaySettingError, gatewayOptionsFrom } from './main.ts';

const registry = new MemoryRegistry();
const trust = (env: Record<string, string>, flags: Record<string, string> = {}) =>
  gatewayOptionsFrom({ env, flags, cwd: '/', registry }).trustTraceparent;

test('--trust-traceparent / BERTH_GATEWAY_TRUST_TRACEPARENT: unset leaves the untrusted default, the flag wins', () => {
  assert.equal(trust({}), undefined);
  assert.equal(trust({ BERTH_GATEWAY_TRUST_TRACEPARENT: 'true' }), true);
  assert.equal(trust({ BERTH_GATEWAY_TRUST_TRACEPARENT: 'true' }, { 'trust-traceparent': 'false' }), false);
});

test('a value other than true or false is refused, naming where it came from', () => {
  assert.throws(
    () => trust({ BERTH_GATEWAY_TRUST_TRACEPARENT: 'yes' }),
    (error: GatewaySettingError) =>
      error instanceof GatewaySettingError &&
      error.message === 'BERTH_GATEWAY_TRUST_TRACEPARENT: expected true or false, got "yes"',
  );
});
