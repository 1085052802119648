/** The package's entry points resolve, by name, to what the docs promise. */
import assert from 'node:assert/strict';
import { test } from 'node:test';

test("'berth', 'berth/broker' (with /direct and /nats) and 'berth/store' resolve and export the documented parts", async () => {
  const berth = await import('berth');
  for (const name of [
    'Service',
    'runMain',
    'createTypedClient',
    'ServiceCaller',
    'Gateway',
    'LocalRegistry',
    'MemoryRegistry',
    'loadConfig',
    'ConnectError',
    'createLogger',
  ] as const) {
    assert.equal(typeof berth[name], 'function', `berth exports ${name}`);
  }
  const broker = await import('berth/broker');
  for (const name of ['OutboxRelay', 'enqueue', 'handleOnce'] as const) {
    assert.equal(typeof broker[name], 'function', `berth/broker exports ${name}`);
  }
  assert.equal(typeof (await import('berth/broker/direct')).DirectBroker, 'function');
  assert.equal(typeof (await import('berth/broker/nats')).NatsBroker, 'function');
  const store = await import('berth/store');
  for (const name of ['createPool', 'migrate', 'withTransaction', 'waitForDatabase'] as const) {
    assert.equal(typeof store[name], 'function', `berth/store exports ${name}`);
  }
});
