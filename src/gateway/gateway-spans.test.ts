/**
 * The gateway's own SERVER span, with the real SDK exporting to memory: a new
 * trace linked to an untrusted client's, the outcome of aborted and failed gRPC
 * calls, bounded names, and its ids on the gateway's log lines.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { waitFor } from '../../test/support/wait.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from '../service/service.ts';
import { activeTracing } from '../telemetry/active.ts';
import { registerTracing, type Tracing } from '../telemetry/sdk.ts';
import { Gateway, type GatewayOptions } from './gateway.ts';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
before(() => {
  tracing = registerTracing({ serviceName: 'test', exporters: [exporter], processing: 'simple' });
});
after(() => tracing.shutdown());

const clientTrace = '0af7651916cd43dd8448eb211c80319c';
const clientSpan = 'b7ad6b7169203331';
const traceparent = `00-${clientTrace}-${clientSpan}-01`;

/**
 * A gateway before `back`, which greets, fails as a server does for `fail`, and
 * for `hang` answers only once the test is over; `lines` are the gateway's log lines.
 */
async function system(t: { after(fn: () => Promise<void>): void }, options: Partial<GatewayOptions> = {}) {
  const registry = new MemoryRegistry();
  let entered!: () => void;
  const hanging = new Promise<void>((resolve) => {
    entered = resolve;
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const back = new Service({ name: 'back', registry, deregisterDelayMs: 0 }).handle(Say, {
    async hello(request) {
      if (request.name === 'fail') throw new ConnectError('the disk is gone', Code.Internal);
      if (request.name === 'hang') {
        entered();
        await released;
      }
      return { greeting: `Hello ${request.name}` };
    },
  });
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()));
      done();
    },
  });
  // The mixin createLogger({ traceIds: true }) installs, on a logger whose lines the test can read.
  const logger = pino({ mixin: () => activeTracing?.logFields() ?? {} }, sink);
  await back.start();
  const gateway = new Gateway({ registry, port: 0, logger, ...options });
  const { port } = await gateway.start();
  t.after(async () => {
    release();
    await gateway.stop(0);
    await back.stop();
  });
  return { url: `http://127.0.0.1:${port}`, hanging, lines };
}

function rpc(url: string, name: string, signal?: AbortSignal) {
  return fetch(`${url}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent },
    body: JSON.stringify({ service: 'back', method: 'Say.Hello', request: { name } }),
    signal,
  });
}

/** The gateway's span once it has ended: the only SERVER span named `name` (or by `url.path`). */
function gatewaySpan(match: (span: ReadableSpan) => boolean): Promise<ReadableSpan> {
  return waitFor(
    () =>
      exporter
        .getFinishedSpans()
        .find(
          (span) => span.kind === SpanKind.SERVER && span.attributes['http.request.method'] && match(span),
        ),
    { what: 'the gateway’s span' },
  );
}

const named = (name: string) => (span: ReadableSpan) => span.name === name;

test('by default the gateway starts a new trace, linked to the client’s, and the call is part of it', async (t) => {
  exporter.reset();
  const run = await system(t);
  const response = await rpc(run.url, 'Ewan');
  assert.equal(response.status, 200, await response.text());
  const span = await gatewaySpan(named('POST /rpc'));
  assert.notEqual(span.spanContext().traceId, clientTrace, 'not the client’s trace');
  assert.equal(span.parentSpanContext, undefined, 'a root span');
  assert.equal(span.links.length, 1);
  assert.equal(span.links[0]?.context.traceId, clientTrace);
  assert.equal(span.links[0]?.context.spanId, clientSpan);
  const backSpan = await waitFor(() =>
    exporter.getFinishedSpans().find((found) => found.name === 'greeter.v1.Say/Hello'),
  );
  assert.equal(backSpan.spanContext().traceId, span.spanContext().traceId);
  assert.equal(backSpan.parentSpanContext?.spanId, span.spanContext().spanId);
});

test('trusted, the gateway continues the client’s trace, with no link', async (t) => {
  exporter.reset();
  const run = await system(t, { trustTraceparent: true });
  assert.equal((await rpc(run.url, 'Ewan')).status, 200);
  const span = await gatewaySpan(named('POST /rpc'));
  assert.equal(span.spanContext().traceId, clientTrace);
  assert.equal(span.parentSpanContext?.spanId, clientSpan);
  assert.equal(span.links.length, 0);
});

test('a client that goes away mid-call is an aborted span, not a 200', async (t) => {
  exporter.reset();
  const run = await system(t);
  const abort = new AbortController();
  const answered = rpc(run.url, 'hang', abort.signal);
  await run.hanging;
  abort.abort();
  await assert.rejects(answered);
  const span = await gatewaySpan(named('POST /rpc'));
  assert.equal(span.attributes['error.type'], 'aborted');
  assert.equal(span.attributes['http.response.status_code'], undefined);
  assert.equal(span.status.code, SpanStatusCode.ERROR);
});

test('a gRPC call that fails on an HTTP 200 is an error span with its gRPC status', async (t) => {
  exporter.reset();
  const run = await system(t);
  const client = createClient(Say, createGrpcTransport({ baseUrl: run.url }));
  await assert.rejects(client.hello({ name: 'fail' }), (error: ConnectError) => error.code === Code.Internal);
  const span = await gatewaySpan(named('POST /greeter.v1.Say/Hello'));
  assert.equal(span.attributes['http.response.status_code'], 200);
  assert.equal(span.attributes['rpc.grpc.status_code'], Code.Internal);
  assert.equal(span.status.code, SpanStatusCode.ERROR);
});

test('the gateway’s own gRPC error (trailers-only) is an error span with its gRPC status, named by method', async (t) => {
  exporter.reset();
  const gateway = new Gateway({ registry: new MemoryRegistry(), port: 0 });
  const { port } = await gateway.start();
  t.after(() => gateway.stop(0));
  const client = createClient(Say, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  await assert.rejects(
    client.hello({ name: 'Ewan' }),
    (error: ConnectError) => error.code === Code.Unimplemented,
  );
  const span = await gatewaySpan((found) => found.attributes['url.path'] === '/greeter.v1.Say/Hello');
  assert.equal(span.name, 'POST', 'no instance serves it');
  assert.equal(span.attributes['rpc.grpc.status_code'], Code.Unimplemented);
  assert.equal(span.status.code, SpanStatusCode.ERROR);
});

test('a path no route serves names the span by its method alone; the path stays in url.path', async (t) => {
  exporter.reset();
  const run = await system(t);
  const path = '/no-such-route-4711';
  const response = await fetch(`${run.url}${path}`, { method: 'POST', body: '{}' });
  assert.equal(response.status, 404);
  const span = await gatewaySpan((found) => found.attributes['url.path'] === path);
  assert.equal(span.name, 'POST');
  // A proto service nobody serves.
  const proto = '/nobody.v1.Say/Hello';
  const unserved = await fetch(`${run.url}${proto}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(unserved.status, 404);
  assert.equal((await gatewaySpan((found) => found.attributes['url.path'] === proto)).name, 'POST');
});

test('the gateway’s log lines carry its span’s ids', async (t) => {
  exporter.reset();
  const run = await system(t);
  assert.equal((await rpc(run.url, 'fail')).status, 500);
  const span = await gatewaySpan(named('POST /rpc'));
  const line = run.lines.find((found) => found.msg === 'gateway error');
  assert.ok(line, JSON.stringify(run.lines));
  assert.equal(line.trace_id, span.spanContext().traceId);
  assert.equal(line.span_id, span.spanContext().spanId);
});
