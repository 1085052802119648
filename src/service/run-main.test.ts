import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runtimeFromEnv } from './run-main.ts';

test('PORT, BERTH_PORT and BERTH_OPS_PORT: a port number, or an error naming the variable', async () => {
  const env = { BERTH_REGISTRY: 'memory', LOG_LEVEL: 'silent' };
  assert.equal((await runtimeFromEnv(env)).port, 0);
  assert.equal((await runtimeFromEnv({ ...env, PORT: '8080' })).port, 8080);
  assert.equal((await runtimeFromEnv({ ...env, BERTH_PORT: '9090' })).port, 9090);
  await assert.rejects(
    runtimeFromEnv({ ...env, PORT: 'abc' }),
    /^Error: PORT: expected a port number \(0-65535\), got "abc"$/,
  );
  await assert.rejects(runtimeFromEnv({ ...env, BERTH_PORT: '70000' }), /BERTH_PORT: expected a port number/);
  assert.equal((await runtimeFromEnv(env)).opsPort, undefined);
  assert.equal((await runtimeFromEnv({ ...env, BERTH_OPS_PORT: '9090' })).opsPort, 9090);
  assert.equal((await runtimeFromEnv(env)).brokerToken, undefined);
  assert.equal(
    (await runtimeFromEnv({ ...env, BERTH_BROKER_TOKEN: 'a'.repeat(43) })).brokerToken,
    'a'.repeat(43),
  );
  await assert.rejects(
    runtimeFromEnv({ ...env, BERTH_OPS_PORT: 'ops' }),
    /^Error: BERTH_OPS_PORT: expected a port number \(0-65535\), got "ops"$/,
  );
});

test('LOG_LEVEL and LOG_FORMAT: a value berth does not know is named', async () => {
  const env = { BERTH_REGISTRY: 'memory' };
  await assert.rejects(
    runtimeFromEnv({ ...env, LOG_LEVEL: 'verbose' }),
    /LOG_LEVEL: expected one of .*debug.*, got "verbose"/,
  );
  await assert.rejects(
    runtimeFromEnv({ ...env, LOG_FORMAT: 'prety' }),
    /LOG_FORMAT: expected json or pretty, got "prety"/,
  );
  assert.equal(
    (await runtimeFromEnv({ ...env, LOG_LEVEL: 'warn', LOG_FORMAT: 'json' })).logger.level,
    'warn',
  );
});
