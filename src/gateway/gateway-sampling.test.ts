/**
 * Under a parent-based sampler, a client's sampled `traceparent` decides nothing
 * at an untrusted gateway: the call goes on in a trace of the gateway's own,
 * sampled as the sampler says (here: never, for a new trace); a trusted gateway
 * continues the client's sampled trace. Seen in the `traceparent` the instance gets.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { currentRequest } from '../context/request-context.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from '../service/service.ts';
import { registerTracing, type Tracing } from '../telemetry/sdk.ts';
import { Gateway } from './gateway.ts';

let tracing: Tracing;
before(() => {
  // The SDK reads its sampler from the environment as the provider is made.
  process.env.OTEL_TRACES_SAMPLER = 'parentbased_always_off';
  tracing = registerTracing({
    serviceName: 'test',
    exporters: [new InMemorySpanExporter()],
    processing: 'simple',
  });
});
after(async () => {
  await tracing.shutdown();
  delete process.env.OTEL_TRACES_SAMPLER;
});

const clientTrace = '0af7651916cd43dd8448eb211c80319c';

/** The `traceparent` back got for a call through a gateway that trusts the client's or not. */
async function traceparentBackGets(t: { after(fn: () => Promise<void>): void }, trustTraceparent: boolean) {
  const registry = new MemoryRegistry();
  const back = new Service({ name: 'back', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello: () => ({ greeting: String(currentRequest()?.headers.traceparent) }),
  });
  await back.start();
  const gateway = new Gateway({ registry, port: 0, trustTraceparent });
  const { port } = await gateway.start();
  t.after(async () => {
    await gateway.stop(0);
    await back.stop();
  });
  const response = await fetch(`http://127.0.0.1:${port}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${clientTrace}-b7ad6b7169203331-01` },
    body: JSON.stringify({ service: 'back', method: 'Say.Hello', request: {} }),
  });
  assert.equal(response.status, 200);
  return ((await response.json()) as { greeting: string }).greeting.split('-');
}

test('an untrusted client’s sampled traceparent does not make the gateway sample', async (t) => {
  const [, traceId, , flags] = await traceparentBackGets(t, false);
  assert.notEqual(traceId, clientTrace);
  assert.equal(flags, '00', 'not sampled');
});

test('a trusted client’s sampled traceparent is continued, sampled', async (t) => {
  const [, traceId, , flags] = await traceparentBackGets(t, true);
  assert.equal(traceId, clientTrace);
  assert.equal(flags, '01');
});
