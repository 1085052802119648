/**
 * The API explorer's streaming calls (POST /api/stream, answered as NDJSON) on a
 * real dashboard, through a real gateway to a real Countdown service: a server
 * stream's messages, each as it arrives; the error that ends a stream; a client and
 * a bidi stream's list of requests; a call the client stops is cancelled at the
 * service; the limits on what is passed on (messages, bytes, deadline); and the
 * 400s naming the field that is wrong.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import type { StreamLimits } from '../../src/dashboard/stream-call.ts';
import { registerTracing } from '../../src/telemetry/sdk.ts';
import { fileCleanup } from '../support/cleanup.ts';
import { waitFor } from '../support/wait.ts';
import { type CountdownSystem, startCountdownSystem } from './support/countdown-system.ts';
import { ndjsonLines } from './support/ndjson.ts';

const cleanup = fileCleanup();
let system: CountdownSystem;

const exporter = new InMemorySpanExporter();

before(async () => {
  const tracing = registerTracing({ serviceName: 'test', exporters: [exporter], processing: 'simple' });
  cleanup(() => tracing.shutdown());
  // As `berth run` starts it: the dashboard's traceparent starts the call's trace.
  system = await startCountdownSystem(cleanup, { trustTraceparent: true });
});

/** A dashboard before the system, its API called with its token. */
async function dashboardWith(streamLimits?: StreamLimits) {
  const dashboard = await Dashboard.start({ runtime: system.runtime, streamLimits });
  cleanup(() => dashboard.close());
  const call = async (path: string, body: unknown) => {
    const response = await fetch(`${dashboard.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dashboard.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  // The explorer knows a method's kind from the service's /descriptors, read on a visit.
  const listed = await fetch(`${dashboard.url}/api/services`, {
    headers: { authorization: `Bearer ${dashboard.token}` },
  });
  /** POST /api/stream, its lines as they come. */
  const open = async (body: unknown, signal?: AbortSignal) => {
    const response = await fetch(`${dashboard.url}/api/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${dashboard.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/x-ndjson/);
    return ndjsonLines(response.body!);
  };
  /** POST /api/stream read to its end: the messages, and the last line's end. */
  const stream = async (body: unknown) => {
    const messages: unknown[] = [];
    let end: Record<string, unknown> | undefined;
    for await (const line of await open(body)) {
      assert.equal(end, undefined, 'nothing after the end');
      const { message, end: last } = line as { message?: unknown; end?: Record<string, unknown> };
      if (last) end = last;
      else messages.push(message);
    }
    assert.ok(end, 'the answer ends with its end');
    return { messages, end };
  };
  return { call, open, stream, services: (await listed.json()) as { services: unknown[] } };
}

const count = (request: unknown) => ({ service: 'countdown', method: 'Countdown.Count', request });
/** `{value: 0}` as proto3 JSON writes it: a field at its default is left out. */
const valueZero = {};

test('the streaming methods are listed with their kinds', async () => {
  const { services } = await dashboardWith();
  const [countdown] = services.services as {
    service: string;
    protoServices: { typeName: string; methods: { name: string; kind: string }[] }[];
  }[];
  assert.equal(countdown?.service, 'countdown');
  assert.deepEqual(
    countdown.protoServices.flatMap(({ typeName, methods }) =>
      methods.map(({ name, kind }) => `${typeName}.${name} ${kind}`),
    ),
    [
      'countdown.v1.Countdown.Count server_streaming',
      'countdown.v1.Countdown.Double bidi_streaming',
      'tally.v1.Tally.Sum client_streaming',
    ],
  );
});

test('a server stream answers every message, its trace id, the deadline it was given', async () => {
  const { stream } = await dashboardWith();
  const deadlinesBefore = system.deadlines.length;
  const { messages, end: body } = await stream(count({ from: 3 }));
  assert.deepEqual(messages, [{ value: 3 }, { value: 2 }, { value: 1 }]);
  assert.equal(body.count, 3);
  assert.equal(body.error, undefined);
  assert.equal(body.truncated, undefined);
  assert.match(String(body.traceId), /^[0-9a-f]{32}$/);
  assert.equal(typeof system.deadlines[deadlinesBefore], 'number', 'connect-timeout-ms reached the service');
  await waitFor(
    () =>
      exporter
        .getFinishedSpans()
        .find(
          (span) =>
            span.kind === SpanKind.SERVER &&
            span.name === 'countdown.v1.Countdown/Count' &&
            span.spanContext().traceId === body.traceId,
        ),
    { what: "the service's span in the call's trace" },
  );
  assert.deepEqual(body.limits, { maxMessages: 100, maxBytes: 256 * 1024, timeoutMs: 30_000 });
});

test("a server stream's first message arrives while the stream is still open", async () => {
  // A deadline short of connect's 30 s, so that the old whole answer fails this test soon.
  const { open } = await dashboardWith({ maxMessages: 100, maxBytes: 1024, timeoutMs: 10_000 });
  const lines = await open(count({ from: 0 }));
  // The service holds the stream open after {value: 0} until released, which comes only now.
  assert.deepEqual((await lines.next()).value, { message: valueZero });
  system.releaseHeld();
  const rest = [];
  for await (const line of lines) rest.push(line);
  assert.equal(rest.length, 1);
  const { end } = rest[0] as { end: Record<string, unknown> };
  assert.equal(end.count, 1);
  assert.equal(end.error, undefined);
});

test("stopping a call (the client goes away) cancels the service's", async () => {
  const { open } = await dashboardWith({ maxMessages: 100, maxBytes: 1024, timeoutMs: 10_000 });
  const cancelledBefore = system.cancelledCount();
  const stop = new AbortController();
  const lines = await open(count({ from: 0 }), stop.signal);
  assert.deepEqual((await lines.next()).value, { message: valueZero });
  stop.abort();
  await assert.rejects(lines.next(), { name: 'AbortError' });
  await waitFor(() => system.cancelledCount() > cancelledBefore, {
    what: 'the service to see its call cancelled',
  });
});

test('a stream that fails ends with its error, after the messages sent before', async () => {
  const { stream } = await dashboardWith();
  const { messages, end } = await stream(count({ from: 5, failAfter: 2 }));
  assert.deepEqual(messages, [{ value: 5 }, { value: 4 }]);
  assert.deepEqual(end.error, { code: 'internal', message: 'the counter broke' });
});

test('a request the service cannot read is its invalid_argument at the end of the stream', async () => {
  const { stream } = await dashboardWith();
  const { end } = await stream(count({ from: 'three' }));
  assert.equal(end.count, 0);
  assert.equal((end.error as { code: string }).code, 'invalid_argument');
});

test('a client stream sends its list of requests and answers once', async () => {
  const { stream } = await dashboardWith();
  const { messages, end } = await stream({
    service: 'countdown',
    method: 'Tally.Sum',
    requests: [{ value: 1 }, { value: 41 }],
  });
  assert.deepEqual(messages, [{ total: 42 }]);
  assert.equal(end.error, undefined);
});

test('a bidi stream sends its list of requests, half-closes, and answers each', async () => {
  const { stream } = await dashboardWith();
  const { messages, end } = await stream({
    service: 'countdown',
    method: 'Countdown.Double',
    requests: [{ value: 1 }, { value: 2 }, { value: 21 }],
  });
  assert.deepEqual(messages, [{ value: 2 }, { value: 4 }, { value: 42 }]);
  // Double answers until its requests end: an end `ok` is the half-close seen.
  assert.equal(end.error, undefined);
  assert.equal(end.count, 3);
  assert.match(String(end.traceId), /^[0-9a-f]{32}$/);
});

test('at most maxMessages are passed on, then the call is cancelled', async () => {
  const { stream } = await dashboardWith({ maxMessages: 2, maxBytes: 1024, timeoutMs: 30_000 });
  const { messages, end } = await stream(count({ from: 5 }));
  assert.deepEqual(messages, [{ value: 5 }, { value: 4 }]);
  assert.equal(end.truncated, 'messages');
  assert.equal(end.error, undefined);
});

test('at most maxBytes of JSON are passed on', async () => {
  // {"value":5} is 11 characters: two fit in 25, the third does not.
  const { stream } = await dashboardWith({ maxMessages: 100, maxBytes: 25, timeoutMs: 30_000 });
  const { messages, end } = await stream(count({ from: 5 }));
  assert.deepEqual(messages, [{ value: 5 }, { value: 4 }]);
  assert.equal(end.truncated, 'bytes');
});

test('a stream still open at the deadline ends with deadline_exceeded, after the message that came', async () => {
  const { stream } = await dashboardWith({ maxMessages: 100, maxBytes: 1024, timeoutMs: 300 });
  const { messages, end } = await stream(count({ from: 0 }));
  assert.deepEqual(messages, [valueZero]);
  assert.equal((end.error as { code: string }).code, 'deadline_exceeded');
});

test('bad requests are 400s naming the field', async () => {
  const { call } = await dashboardWith();
  const cases: [unknown, RegExp][] = [
    [{ service: 'countdown', method: 'Countdown.Double', requests: {} }, /^requests: expected a list/],
    [
      { service: 'countdown', method: 'Countdown.Double', requests: [{}, 3] },
      /^requests\[1\]: expected a JSON object/,
    ],
    [{ service: 'countdown', method: 'Countdown.Count', request: [] }, /^request: expected a JSON object/],
    [
      { service: 'countdown', method: 'Countdown.Count', requests: [{}, {}] },
      /^requests: .* server stream: send one/,
    ],
    [
      { service: 'countdown', method: 'Countdown.Nope', request: {} },
      /^method: countdown describes no streaming method/,
    ],
    [{ service: 'countdown', method: 'Count', request: {} }, /^method: expected Service.Method/],
  ];
  for (const [body, error] of cases) {
    const answer = await call('/api/stream', body);
    assert.equal(answer.status, 400, JSON.stringify(body));
    assert.match(String(answer.body.error), error);
  }
});
