/**
 * The dashboard's HTTP API on a real server on 127.0.0.1: its two tokens (the page's
 * bearer header for the API, the ingest token for the receiver only), the OTLP/HTTP JSON receiver fed by the real
 * OpenTelemetry exporter, its limits and its answers to bad input. The runtime is
 * a small in-test one: what the runner does behind it is the browser test's part.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Dashboard, type DashboardRuntime } from '../../src/dashboard/dashboard-server.ts';
import type { ProcessState } from '../../src/runner/state.ts';
import { errorOf } from './support/otlp-status.ts';

const vessel: ProcessState = {
  instance: 'vessel-1',
  service: 'vessel',
  kind: 'service',
  pid: 4242,
  address: undefined,
  status: 'stopped',
  startedAt: undefined,
  readyAt: undefined,
  restarts: 0,
  reloads: 0,
  logFile: '/dev/null',
};

const actions: string[] = [];
const runtime: DashboardRuntime = {
  system: 'testsys',
  environment: 'dev',
  processes: () => [vessel],
  stop: async (services) => void actions.push(`stop ${services.join(',')}`),
  start: async (services) => void actions.push(`start ${services.join(',')}`),
  gateway: () => undefined,
  databases: () => new Map(),
  broker: () => ({ kind: 'direct' }),
};

let dashboard: Dashboard;
let auth: Record<string, string>;
let ingest: Record<string, string>;

before(async () => {
  dashboard = await Dashboard.start({
    runtime,
    bodyLimitBytes: 64 * 1024,
    spanLimits: { maxTraces: 3, maxSpans: 100, maxSpansPerTrace: 10 },
  });
  auth = { authorization: `Bearer ${dashboard.token}` };
  ingest = { authorization: `Bearer ${dashboard.ingestToken}` };
});
after(() => dashboard.close());

/** A raw request (fetch cannot send a foreign Host header). */
function raw(
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunked?: boolean;
  } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${dashboard.url}${path}`,
      { method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    // Written before end: sent chunked, with no content-length to refuse it by.
    if (options.chunked) req.write(options.body);
    req.end(options.chunked ? undefined : options.body);
  });
}

const otlp = (body: unknown, headers: Record<string, string> = ingest) =>
  fetch(`${dashboard.url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

function otlpRequest(traceId: string, spans: number, service = 'vessel'): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeSpans: [
          {
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId,
              spanId: (i + 1).toString(16).padStart(16, '0'),
              ...(i > 0 ? { parentSpanId: '0000000000000001' } : {}),
              name: `span ${i}`,
              kind: 2,
              startTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i) * 1_000_000n),
              endTimeUnixNano: String(1_700_000_000_000_000_000n + BigInt(i + 2) * 1_000_000n),
              status: i === 1 ? { code: 2, message: 'boom' } : {},
            })),
          },
        ],
      },
    ],
  };
}

describe('the tokens', () => {
  test('no token, a wrong one or a cookie: 401 saying where the URL is printed', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer nope' },
      { cookie: `berth_dashboard=${dashboard.token}` },
    ];
    for (const headers of attempts) {
      const answer = await fetch(`${dashboard.url}/api/overview`, { headers });
      assert.equal(answer.status, 401);
      assert.match(((await answer.json()) as { error: string }).error, /URL that berth run printed/);
    }
    assert.equal((await fetch(`${dashboard.url}/api/overview?t=${dashboard.token}`)).status, 401);
  });

  test('the printed URL holds the token in its fragment; the page and its modules are public, with no redirect', async () => {
    assert.equal(dashboard.pageUrl, `${dashboard.url}/#t=${dashboard.token}`);
    for (const path of ['/', '/app.js', '/style.css', '//evil.example/', '/?t=x']) {
      const page = await fetch(`${dashboard.url}${path}`, { redirect: 'manual' });
      if (path === '//evil.example/') {
        assert.equal(page.status, 401, 'not an asset: no redirect anywhere');
        continue;
      }
      assert.equal(page.status, 200, path);
      assert.equal(page.headers.get('set-cookie'), null);
      assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
      assert.equal(page.headers.get('access-control-allow-origin'), null);
      if (path === '/') assert.match(await page.text(), /<script type="module" src="\/app.js">/);
      else await page.arrayBuffer();
    }
    assert.equal((await fetch(`${dashboard.url}/constructor`)).status, 401);
  });

  test('the ingest token opens only POST /v1/traces, and the page token not that', async () => {
    assert.equal((await fetch(`${dashboard.url}/api/overview`, { headers: ingest })).status, 401);
    const stop = await fetch(`${dashboard.url}/api/resources/stop`, {
      method: 'POST',
      headers: { ...ingest, 'content-type': 'application/json' },
      body: '{"services":["vessel"]}',
    });
    assert.equal(stop.status, 401);
    assert.deepEqual(actions, []);
    const withPageToken = await otlp(otlpRequest('ab'.repeat(16), 1), auth);
    assert.equal(withPageToken.status, 401);
    assert.match(await errorOf(withPageToken), /ingest token/);
    assert.equal(dashboard.spans.trace('ab'.repeat(16)), undefined);
  });

  test('another origin or host is refused even with the token', async () => {
    const foreign = await fetch(`${dashboard.url}/api/overview`, {
      headers: { ...auth, origin: 'http://evil.example' },
    });
    assert.equal(foreign.status, 403);
    const rebound = await raw('/api/overview', { headers: { ...auth, host: 'evil.example' } });
    assert.equal(rebound.status, 421);
  });
});

describe('the OTLP/HTTP JSON receiver', () => {
  test('spans from the real OpenTelemetry exporter, with the bearer header berth gives children', async () => {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'exporter-test' }),
      spanProcessors: [
        new SimpleSpanProcessor(
          new OTLPTraceExporter({ url: `${dashboard.url}/v1/traces`, headers: ingest }),
        ),
      ],
    });
    const tracer = provider.getTracer('dashboard-test');
    const parent = tracer.startSpan('VesselService/FindAvailable', {
      attributes: { 'rpc.service': 'shippy.vessel.v1.VesselService', 'rpc.method': 'FindAvailable' },
    });
    const child = tracer.startSpan('SELECT vessels', {}, trace.setSpan(context.active(), parent));
    child.end();
    parent.end();
    await provider.forceFlush();
    await provider.shutdown();

    const { traceId } = parent.spanContext();
    const listed = (await (
      await fetch(`${dashboard.url}/api/traces?service=exporter-test`, { headers: auth })
    ).json()) as {
      traces: Array<{ traceId: string; root: string; spanCount: number; services: string[] }>;
    };
    assert.deepEqual(
      listed.traces.map(({ traceId, root, spanCount, services }) => ({ traceId, root, spanCount, services })),
      [{ traceId, root: 'VesselService.FindAvailable', spanCount: 2, services: ['exporter-test'] }],
    );
    const one = (await (await fetch(`${dashboard.url}/api/traces/${traceId}`, { headers: auth })).json()) as {
      spans: Array<{ name: string; parentSpanId?: string; service: string }>;
    };
    // By start time, and the two can start in the same microsecond: compared by name.
    assert.deepEqual(one.spans.map((span) => [span.name, span.parentSpanId ?? null]).sort(), [
      ['SELECT vessels', parent.spanContext().spanId],
      ['VesselService/FindAvailable', null],
    ]);
  });

  test('without the token: 401, nothing kept', async () => {
    const before = dashboard.spans.spanCount;
    assert.equal((await otlp(otlpRequest('ab'.repeat(16), 1), {})).status, 401);
    assert.equal(dashboard.spans.spanCount, before);
  });

  test('bad input: 400 naming the problem, 415 for what is not OTLP, 413 past the body limit', async () => {
    const notJson = await otlp('{"resourceSpans": [');
    assert.equal(notJson.status, 400);
    assert.match(await errorOf(notJson), /^the body is not JSON/);

    const badId = otlpRequest('not-hex', 1);
    const wrong = await otlp(badId);
    assert.equal(wrong.status, 400);
    assert.equal(
      await errorOf(wrong),
      'resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 32 hex digits',
    );

    const notArray = await otlp({ resourceSpans: {} });
    assert.equal(await errorOf(notArray), 'resourceSpans: expected an array');

    const form = await fetch(`${dashboard.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...ingest },
      body: 'resourceSpans=',
    });
    assert.equal(form.status, 415);
    assert.match(await errorOf(form), /application\/x-protobuf or application\/json/);

    const big = await raw('/v1/traces', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ingest },
      body: Buffer.alloc(65 * 1024, 0x20),
    });
    assert.equal(big.status, 413);
    assert.match(big.body, /over 65536 bytes/);
    // Found too large while reading: still an answer, not a reset connection.
    const streamed = await raw('/v1/traces', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...ingest },
      body: Buffer.alloc(256 * 1024, 0x20),
      chunked: true,
    });
    assert.equal(streamed.status, 413);
    assert.match(streamed.body, /over 65536 bytes/);
  });

  test('bounded: the oldest traces go first, spans past the per-trace limit are counted, not kept', async () => {
    const ids = ['1', '2', '3', '4'].map((digit) => digit.repeat(32));
    for (const id of ids) assert.equal((await otlp(otlpRequest(id, 2))).status, 200);
    assert.equal((await otlp(otlpRequest(ids[3]!, 15))).status, 200);
    const listed = (await (await fetch(`${dashboard.url}/api/traces`, { headers: auth })).json()) as {
      traces: Array<{ traceId: string; spanCount: number; droppedSpans: number; errorCount: number }>;
    };
    assert.deepEqual(listed.traces.map((t) => t.traceId).sort(), ids.slice(1).sort());
    const last = listed.traces.find((t) => t.traceId === ids[3])!;
    // Its first two spans came again (kept once), then 13 new ones: 8 of them kept, 5 dropped.
    assert.deepEqual([last.spanCount, last.droppedSpans], [10, 5]);
    assert.equal((await fetch(`${dashboard.url}/api/traces/${ids[0]}`, { headers: auth })).status, 404);
    const errors = (await (
      await fetch(`${dashboard.url}/api/traces?errors=1`, { headers: auth })
    ).json()) as {
      traces: Array<{ errorCount: number }>;
    };
    assert.ok(errors.traces.length > 0 && errors.traces.every((t) => t.errorCount > 0));
  });
});

describe('the API', () => {
  test('resource actions reach the runtime; a bad body is a 400', async () => {
    const post = (path: string, body: string) =>
      fetch(`${dashboard.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...auth },
        body,
      });
    assert.equal((await post('/api/resources/restart', '{"services":["vessel"]}')).status, 200);
    assert.deepEqual(actions.splice(0), ['stop vessel', 'start vessel']);
    const bad = await post('/api/resources/stop', '{"services":"vessel"}');
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: string }).error, 'expected {"services": ["<name>", ...]}');
    assert.deepEqual(actions, []);
    const call = await post('/api/call', '{"service":"vessel","method":"nope","request":{}}');
    assert.equal(call.status, 400);
    assert.match(((await call.json()) as { error: string }).error, /^method: expected Service\.Method/);
    assert.equal((await fetch(`${dashboard.url}/api/nothing`, { headers: auth })).status, 404);
  });

  test('logs: filtered by service, level and text, after a sequence number', async () => {
    dashboard.logs.add('vessel-1', 'vessel', JSON.stringify({ level: 30, time: 1, msg: 'serving' }));
    dashboard.logs.add(
      'vessel-1',
      'vessel',
      JSON.stringify({ level: 50, time: 2, msg: 'query failed', trace_id: 'c'.repeat(32) }),
    );
    dashboard.logs.add('user-1', 'user', 'not json at all');
    const get = async (query: string) =>
      (
        (await (await fetch(`${dashboard.url}/api/logs?${query}`, { headers: auth })).json()) as {
          last: number;
          lines: Array<{ message: string; level: string; traceId?: string }>;
        }
      ).lines.map((line) => [line.message, line.level, line.traceId ?? null]);
    assert.deepEqual(await get('level=warn'), [['query failed', 'error', 'c'.repeat(32)]]);
    assert.deepEqual(await get('service=user'), [['not json at all', '', null]]);
    assert.deepEqual(await get('text=SERVING'), [['serving', 'info', null]]);
    assert.deepEqual(await get('after=2'), [['not json at all', '', null]]);
  });

  test('traces by attribute: every attr filter must match, of a span or its resource; a bad one is a 400', async () => {
    const ids = { failed: '7'.repeat(32), found: '8'.repeat(32), other: '9'.repeat(32) };
    const string = (text: string) => ({ stringValue: text });
    const spanOf = (traceId: string, attributes: unknown[]) => ({
      resource: { attributes: [{ key: 'service.name', value: string('vessel') }] },
      scopeSpans: [
        {
          spans: [
            {
              traceId,
              spanId: '0000000000000001',
              name: 'span',
              startTimeUnixNano: '1700000000000000000',
              endTimeUnixNano: '1700000000001000000',
              attributes,
            },
          ],
        },
      ],
    });
    const method = { key: 'rpc.method', value: string('FindAvailable') };
    const answer = await otlp({
      resourceSpans: [
        spanOf(ids.failed, [method, { key: 'http.response.status_code', value: { intValue: '503' } }]),
        spanOf(ids.found, [method, { key: 'http.response.status_code', value: { intValue: '200' } }]),
        spanOf(ids.other, [{ key: 'rpc.method', value: string('List') }]),
      ],
    });
    assert.equal(answer.status, 200);
    const listed = async (query: string) => {
      const traces = await fetch(`${dashboard.url}/api/traces?${query}`, { headers: auth });
      return ((await traces.json()) as { traces: Array<{ traceId: string }> }).traces.map((t) => t.traceId);
    };
    assert.deepEqual((await listed('attr=rpc.method=FindAvailable')).sort(), [ids.failed, ids.found].sort());
    assert.deepEqual(await listed('attr=rpc.method=FindAvailable&attr=http.response.status_code=503'), [
      ids.failed,
    ]);
    assert.deepEqual((await listed('attr=service.name=vessel')).length, 3);
    for (const [query, error] of [
      ['attr=%3D503', 'attr: "=503": empty key (expected key=value or key)'],
      [Array(11).fill('attr=k').join('&'), 'attr: 11 filters given, at most 10'],
    ]) {
      const bad = await fetch(`${dashboard.url}/api/traces?${query}`, { headers: auth });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: string }).error, error);
    }
  });
});
