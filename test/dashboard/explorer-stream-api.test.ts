/**
 * The API explorer's streaming calls (POST /api/stream) on a real dashboard, through
 * a real gateway to a real Countdown service: the messages of a server stream, the
 * error that ends a stream, a client stream's list of requests, the limits on what
 * is kept (messages, bytes, deadline), and the 400s naming the field that is wrong.
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
  return { call, services: (await listed.json()) as { services: unknown[] } };
}

const count = (request: unknown) => ({ service: 'countdown', method: 'Countdown.Count', request });

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
  const { call } = await dashboardWith();
  const deadlinesBefore = system.deadlines.length;
  const { status, body } = await call('/api/stream', count({ from: 3 }));
  assert.equal(status, 200);
  assert.deepEqual(body.messages, [{ value: 3 }, { value: 2 }, { value: 1 }]);
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

test('a stream that fails ends with its error, after the messages sent before', async () => {
  const { call } = await dashboardWith();
  const { status, body } = await call('/api/stream', count({ from: 5, failAfter: 2 }));
  assert.equal(status, 200);
  assert.deepEqual(body.messages, [{ value: 5 }, { value: 4 }]);
  assert.deepEqual(body.error, { code: 'internal', message: 'the counter broke' });
});

test('a request the service cannot read is its invalid_argument at the end of the stream', async () => {
  const { call } = await dashboardWith();
  const { status, body } = await call('/api/stream', count({ from: 'three' }));
  assert.equal(status, 200);
  assert.equal(body.count, 0);
  assert.equal((body.error as { code: string }).code, 'invalid_argument');
});

test('a client stream sends its list of requests and answers once', async () => {
  const { call } = await dashboardWith();
  const { status, body } = await call('/api/stream', {
    service: 'countdown',
    method: 'Tally.Sum',
    requests: [{ value: 1 }, { value: 41 }],
  });
  assert.equal(status, 200, JSON.stringify(body));
  assert.deepEqual(body.messages, [{ total: 42 }]);
  assert.equal(body.error, undefined);
});

test('at most maxMessages are kept, then the call is cancelled', async () => {
  const { call } = await dashboardWith({ maxMessages: 2, maxBytes: 1024, timeoutMs: 30_000 });
  const { body } = await call('/api/stream', count({ from: 5 }));
  assert.deepEqual(body.messages, [{ value: 5 }, { value: 4 }]);
  assert.equal(body.truncated, 'messages');
  assert.equal(body.error, undefined);
});

test('at most maxBytes of JSON are kept', async () => {
  // {"value":5} is 11 characters: two fit in 25, the third does not.
  const { call } = await dashboardWith({ maxMessages: 100, maxBytes: 25, timeoutMs: 30_000 });
  const { body } = await call('/api/stream', count({ from: 5 }));
  assert.deepEqual(body.messages, [{ value: 5 }, { value: 4 }]);
  assert.equal(body.truncated, 'bytes');
});

test('a stream still open at the deadline ends with deadline_exceeded', async () => {
  const { call } = await dashboardWith({ maxMessages: 100, maxBytes: 1024, timeoutMs: 300 });
  const { body } = await call('/api/stream', count({ from: 0 }));
  // The gateway relays a response whole, so the message sent before the deadline never came.
  assert.deepEqual(body.messages, []);
  assert.equal((body.error as { code: string }).code, 'deadline_exceeded');
});

test('bad requests are 400s naming the field', async () => {
  const { call } = await dashboardWith();
  const cases: [unknown, RegExp][] = [
    [
      { service: 'countdown', method: 'Countdown.Double', requests: [{}] },
      /^method: .* bidi stream, which the gateway cannot relay/,
    ],
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
