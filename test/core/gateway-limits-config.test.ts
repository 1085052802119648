/**
 * The gateway's connection limits go from berth.yaml (validated) through the
 * runner's environment to the gateway process's options; a bad value anywhere
 * is an error naming the setting.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSystemFile } from '../../src/config/system-file.ts';
import { GatewaySettingError, gatewayOptionsFrom } from '../../src/gateway/main.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { planSystem } from '../../src/runner/plan.ts';
import { configErrorMessage } from '../support/config-error.ts';

const parse = (gateway: string) =>
  parseSystemFile(`system: demo\ngateway: ${gateway}\nservices:\n  web:\n`, {
    file: '/srv/demo/berth.yaml',
    label: 'berth.yaml',
  });

test('berth.yaml limits reach the gateway process as BERTH_GATEWAY_* and become its options', async () => {
  const system = parse(
    '{ headersTimeoutMs: 2000, requestTimeoutMs: 4000, keepAliveTimeoutMs: 1500, maxConnections: 50 }',
  );
  assert.deepEqual(system.gateway.connectionLimits, {
    headersTimeoutMs: 2000,
    requestTimeoutMs: 4000,
    keepAliveTimeoutMs: 1500,
    maxConnections: 50,
  });
  const plan = await planSystem({ system, env: { PATH: '/bin' }, dataDir: '/data' });
  const gateway = plan.units
    .flatMap((unit) => unit.processes)
    .find((process) => process.instance === 'gateway');
  assert.ok(gateway);
  assert.equal(gateway.env.BERTH_GATEWAY_HEADERS_TIMEOUT_MS, '2000');
  assert.equal(gateway.env.BERTH_GATEWAY_REQUEST_TIMEOUT_MS, '4000');
  assert.equal(gateway.env.BERTH_GATEWAY_KEEP_ALIVE_TIMEOUT_MS, '1500');
  assert.equal(gateway.env.BERTH_GATEWAY_MAX_CONNECTIONS, '50');
  assert.equal(gateway.env.BERTH_GATEWAY_IDLE_TIMEOUT_MS, undefined, 'unset: the default applies');
  const options = gatewayOptionsFrom({ env: gateway.env, cwd: '/', registry: new MemoryRegistry() });
  assert.deepEqual(options.connectionLimits, {
    headersTimeoutMs: 2000,
    requestTimeoutMs: 4000,
    keepAliveTimeoutMs: 1500,
    idleTimeoutMs: undefined,
    maxConnections: 50,
  });
});

test('no limits in berth.yaml: the gateway section has none, and the defaults apply', () => {
  assert.equal(parse('{ port: 8080 }').gateway.connectionLimits, undefined);
});

test('bad limits are errors naming the setting', () => {
  assert.match(
    configErrorMessage(() => parse('{ idleTimeoutMs: 0 }')),
    /gateway\.idleTimeoutMs/,
  );
  assert.match(
    configErrorMessage(() => parse('{ maxConnections: lots }')),
    /gateway\.maxConnections/,
  );
  assert.match(
    configErrorMessage(() => parse('{ headersTimeoutMs: 9000, requestTimeoutMs: 3000 }')),
    /gateway\.headersTimeoutMs: headersTimeoutMs \(9000\) must not exceed requestTimeoutMs \(3000\)/,
  );
  const registry = new MemoryRegistry();
  assert.throws(
    () => gatewayOptionsFrom({ env: { BERTH_GATEWAY_IDLE_TIMEOUT_MS: 'soon' }, cwd: '/', registry }),
    (error: unknown) =>
      error instanceof GatewaySettingError &&
      /BERTH_GATEWAY_IDLE_TIMEOUT_MS: expected a positive number of milliseconds, got "soon"/.test(
        error.message,
      ),
  );
  assert.throws(
    () => gatewayOptionsFrom({ flags: { 'headers-timeout': '60000' }, env: {}, cwd: '/', registry }),
    (error: unknown) =>
      error instanceof GatewaySettingError &&
      /--headers-timeout.*must not exceed requestTimeoutMs \(30000\)/.test(error.message),
  );
});
