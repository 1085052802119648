import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runtimeFromEnv } from './run-main.ts';

test('PORT and BERTH_PORT: a port number, or an error naming the variable', async () => {
  const env = { BERTH_REGISTRY: 'memory', LOG_LEVEL: 'silent' };
  assert.equal((await runtimeFromEnv(env)).port, 0);
  assert.equal((await runtimeFromEnv({ ...env, PORT: '8080' })).port, 8080);
  assert.equal((await runtimeFromEnv({ ...env, BERTH_PORT: '9090' })).port, 9090);
  await assert.rejects(
    runtimeFromEnv({ ...env, PORT: 'abc' }),
    /^Error: PORT: expected a port number \(0-65535\), got "abc"$/,
  );
  await assert.rejects(runtimeFromEnv({ ...env, BERTH_PORT: '70000' }), /BERTH_PORT: expected a port number/);
});
