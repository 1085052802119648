/**
 * One trace across every hop berth makes, in one process with the real SDK
 * exporting to memory: a client → gateway → `front` → `back`, with front calling
 * back over berth frames or HTTP/1.1, and gRPC over h2c through the gateway. The
 * gateway trusts the client's traceparent here (src/gateway/gateway-spans.test.ts
 * has the untrusted default).
 * Spans are awaited by polling the exporter, never by a fixed sleep.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { waitFor } from '../../test/support/wait.ts';
import type { CallProtocol } from '../client/caller.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { Gateway } from '../gateway/gateway.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from '../service/service.ts';
import { registerTracing, type Tracing } from './sdk.ts';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
before(() => {
  tracing = registerTracing({ serviceName: 'test', exporters: [exporter], processing: 'simple' });
});
after(() => tracing.shutdown());

const clientTrace = '0af7651916cd43dd8448eb211c80319c';
const clientSpan = 'b7ad6b7169203331';

/** back answers; front asks back, over `protocol`; `fail` makes back fail as a server does. */
async function system(protocol: CallProtocol) {
  const registry = new MemoryRegistry();
  const back = new Service({ name: 'back', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello(request) {
      if (request.name === 'fail') throw new ConnectError('the disk is gone', Code.Internal);
      return { greeting: `Hello ${request.name}` };
    },
  });
  const front = new Service({ name: 'front', registry, deregisterDelayMs: 0, client: { protocol } });
  const backClient = front.client(Say, { service: 'back' });
  front.handle(Say, { hello: (request) => backClient.hello(request) });
  const gateway = new Gateway({ registry, port: 0, trustTraceparent: true });
  await back.start();
  await front.start();
  const { port } = await gateway.start();
  return {
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await gateway.stop(0);
      await front.stop();
      await back.stop();
    },
  };
}

function rpc(url: string, name: string) {
  return fetch(`${url}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${clientTrace}-${clientSpan}-01` },
    body: JSON.stringify({ service: 'front', method: 'Say.Hello', request: { name } }),
  });
}

/** The spans of the client's trace, once `count` have ended. */
async function traceOf(count: number): Promise<ReadableSpan[]> {
  return waitFor(
    () => {
      const spans = exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === clientTrace);
      return spans.length >= count && spans;
    },
    { what: `${count} spans` },
  );
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

function assertChain(spans: ReadableSpan[], status = 200): void {
  const find = (kind: SpanKind, name: string, nth = 0) => {
    const found = spans.filter((span) => span.kind === kind && span.name === name)[nth];
    assert.ok(found, `a ${SpanKind[kind]} span ${name} in ${spans.map((s) => s.name).join(', ')}`);
    return found;
  };
  const gatewaySpan = find(SpanKind.SERVER, 'POST /rpc');
  const frontCall = find(SpanKind.CLIENT, 'greeter.v1.Say/Hello');
  const servers = spans.filter(
    (span) => span.kind === SpanKind.SERVER && span.name === 'greeter.v1.Say/Hello',
  );
  assert.equal(servers.length, 2, 'front’s and back’s');
  const outer = servers.find((span) => parentOf(span) === idOf(gatewaySpan));
  const inner = servers.find((span) => span !== outer);
  assert.ok(outer && inner, 'front serves the gateway’s call');
  assert.equal(parentOf(gatewaySpan), clientSpan, 'the gateway continues the client’s trace');
  // The gateway's relayed call is part of its span: no CLIENT span of its own.
  assert.equal(spans.filter((span) => span.kind === SpanKind.CLIENT).length, 1);
  assert.equal(parentOf(frontCall), idOf(outer));
  assert.equal(parentOf(inner), idOf(frontCall), 'back serves front’s call');
  assert.equal(gatewaySpan.attributes['rpc.service'], 'Say');
  assert.equal(gatewaySpan.attributes['berth.service'], 'front');
  assert.equal(gatewaySpan.attributes['http.response.status_code'], status);
  assert.equal(gatewaySpan.attributes['server.address'], '127.0.0.1', 'the instance it relayed to');
  assert.equal(inner.attributes['rpc.system'], 'connect_rpc');
  assert.equal(inner.attributes['rpc.service'], 'greeter.v1.Say');
  assert.equal(inner.attributes['rpc.method'], 'Hello');
  assert.equal(frontCall.attributes['server.address'], '127.0.0.1');
  assert.equal(typeof frontCall.attributes['server.port'], 'number');
}

for (const protocol of ['auto', 'http'] as const) {
  test(`one trace from the client through the gateway, front and back (${protocol === 'auto' ? 'berth frames' : 'HTTP/1.1'})`, async (t) => {
    exporter.reset();
    const run = await system(protocol);
    t.after(() => run.stop());
    const response = await rpc(run.url, 'Ewan');
    assert.equal(response.status, 200, await response.clone().text());
    assertChain(await traceOf(4));
  });
}

test('a server failure is an error span with its Connect code, on every hop', async (t) => {
  exporter.reset();
  const run = await system('auto');
  t.after(() => run.stop());
  const response = await rpc(run.url, 'fail');
  assert.equal(response.status, 500);
  const spans = await traceOf(4);
  assertChain(spans, 500);
  for (const span of spans) assert.equal(span.status.code, SpanStatusCode.ERROR, span.name);
  const rpcSpans = spans.filter((span) => span.name !== 'POST /rpc');
  for (const span of rpcSpans)
    assert.equal(span.attributes['rpc.connect_rpc.error_code'], 'internal', span.name);
});

test('a caller’s mistake is not the server’s error: its span stays unset', async (t) => {
  exporter.reset();
  const registry = new MemoryRegistry();
  const back = new Service({ name: 'back', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello() {
      throw new ConnectError('no such person', Code.NotFound);
    },
  });
  const instance = await back.start();
  t.after(() => back.stop());
  await fetch(`http://${instance.address}/greeter.v1.Say/Hello`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent: `00-${clientTrace}-${clientSpan}-01` },
    body: '{}',
  });
  const [span] = await traceOf(1);
  assert.equal(span.attributes['rpc.connect_rpc.error_code'], 'not_found');
  assert.equal(span.status.code, SpanStatusCode.UNSET);
});

test('gRPC over h2c through the gateway: the instance’s span is a child of the gateway’s', async (t) => {
  exporter.reset();
  const registry = new MemoryRegistry();
  const back = new Service({ name: 'back', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello: (request) => ({ greeting: `Hello ${request.name}` }),
  });
  await back.start();
  const gateway = new Gateway({ registry, port: 0, trustTraceparent: true });
  const { port } = await gateway.start();
  t.after(async () => {
    await gateway.stop(0);
    await back.stop();
  });
  const client = createClient(Say, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const answer = await client.hello(
    { name: 'Ewan' },
    { headers: { traceparent: `00-${clientTrace}-${clientSpan}-01` } },
  );
  assert.equal(answer.greeting, 'Hello Ewan');
  const spans = await traceOf(2);
  const gatewaySpan = spans.find((span) => span.name === 'POST /greeter.v1.Say/Hello');
  const backSpan = spans.find((span) => span.name === 'greeter.v1.Say/Hello');
  assert.ok(gatewaySpan && backSpan, spans.map((span) => span.name).join(', '));
  assert.equal(parentOf(gatewaySpan), clientSpan);
  assert.equal(parentOf(backSpan), idOf(gatewaySpan));
  assert.equal(gatewaySpan.attributes['rpc.system'], 'grpc');
  assert.equal(backSpan.attributes['rpc.system'], 'grpc');
  assert.equal(backSpan.attributes['rpc.grpc.status_code'], 0);
});
