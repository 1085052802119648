/**
 * What POST /v1/metrics refuses, and how: a body that is not an
 * ExportMetricsServiceRequest, or one whose metrics are not what OTLP says, is a
 * 400 with a google.rpc.Status naming the field, and nothing of it is kept; no
 * ingest token is a 401. GET /api/otlp-metrics and its series refuse a bad
 * parameter by name. And the kinds the real exporters of the other tests do not
 * send: ExponentialHistogram and Summary (count and sum only), exemplars.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import { idleRuntime } from './support/idle-runtime.ts';
import { statusOf } from './support/otlp-status.ts';

let dashboard: Dashboard;
before(async () => {
  dashboard = await Dashboard.start({ runtime: idleRuntime });
});
after(() => dashboard.close());

const timeUnixNano = String(BigInt(Date.now()) * 1_000_000n);

/** An export of `metric` and a good one after it, from `service`: a refusal keeps neither. */
function exportOf(metric: Record<string, unknown>, service = 'orders'): unknown {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
        scopeMetrics: [
          { metrics: [metric, { name: 'ok', gauge: { dataPoints: [{ timeUnixNano, asInt: '1' }] } }] },
        ],
      },
    ],
  };
}

const post = (
  body: string | Uint8Array<ArrayBuffer>,
  type = 'application/json',
  token = dashboard.ingestToken,
) =>
  fetch(`${dashboard.url}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': type, authorization: `Bearer ${token}` },
    body,
  });

const path = 'resourceMetrics[0].scopeMetrics[0].metrics[0]';
const refusals: [string, unknown, RegExp][] = [
  ['a metric without data', exportOf({ name: 'x' }), new RegExp(`^${escaped(path)}: expected its data`)],
  [
    'a metric without a name',
    exportOf({ gauge: { dataPoints: [{ timeUnixNano, asDouble: 1 }] } }),
    new RegExp(`^${escaped(path)}\\.name: expected the metric's name`),
  ],
  [
    'a Sum without temporality',
    exportOf({ name: 'x', sum: { dataPoints: [{ timeUnixNano, asInt: '1' }] } }),
    new RegExp(
      `^${escaped(path)}\\.sum\\.aggregationTemporality: expected 1 \\(delta\\) or 2 \\(cumulative\\), got 0`,
    ),
  ],
  [
    'a point without a time',
    exportOf({ name: 'x', gauge: { dataPoints: [{ asInt: '1' }] } }),
    new RegExp(`^${escaped(path)}\\.gauge\\.dataPoints\\[0\\]\\.timeUnixNano: expected the point's time`),
  ],
  [
    'a point without a value',
    exportOf({ name: 'x', gauge: { dataPoints: [{ timeUnixNano }] } }),
    new RegExp(`^${escaped(path)}\\.gauge\\.dataPoints\\[0\\]: expected asDouble or asInt`),
  ],
  [
    'a histogram whose buckets do not match its bounds',
    exportOf({
      name: 'x',
      histogram: {
        aggregationTemporality: 2,
        dataPoints: [{ timeUnixNano, count: '3', explicitBounds: [1, 2], bucketCounts: ['1', '2'] }],
      },
    }),
    new RegExp(`^${escaped(path)}\\.histogram\\.dataPoints\\[0\\]\\.bucketCounts: expected 3 counts`),
  ],
  [
    'a field of the wrong type',
    exportOf({ name: 'x', gauge: { dataPoints: [{ timeUnixNano, asDouble: 'many' }] } }),
    /^the body is not an OTLP JSON ExportMetricsServiceRequest: .*as_double/,
  ],
];

function escaped(text: string): string {
  return text.replace(/[[\].()]/g, '\\$&');
}

for (const [what, body, message] of refusals) {
  test(`POST /v1/metrics refuses ${what}: 400 INVALID_ARGUMENT naming the field, nothing kept`, async () => {
    const answer = await post(JSON.stringify(body));
    assert.equal(answer.status, 400);
    const status = await statusOf(answer);
    assert.equal(status.code, 3);
    assert.match(status.message, message);
    const listed = await api('/api/otlp-metrics?service=orders');
    assert.deepEqual((listed.body as { series: unknown[] }).series, []);
  });
}

test('POST /v1/metrics refuses a protobuf body that is not an ExportMetricsServiceRequest, and one without the ingest token', async () => {
  const garbage = await post(new Uint8Array([0x0a, 0xff, 0x01]), 'application/x-protobuf');
  assert.equal(garbage.status, 400);
  assert.match(
    (await statusOf(garbage)).message,
    /^the body is not a protobuf ExportMetricsServiceRequest: /,
  );
  const valid = JSON.stringify(
    exportOf({ name: 'y', gauge: { dataPoints: [{ timeUnixNano, asDouble: 2 }] } }, 'anyone'),
  );
  const untokened = await post(valid, 'application/json', dashboard.token);
  assert.equal(untokened.status, 401);
  assert.match((await statusOf(untokened)).message, /ingest token/);
  assert.equal((await post(valid)).status, 200);
  const listed = (await api('/api/otlp-metrics?service=anyone')).body as { series: { name: string }[] };
  assert.deepEqual(
    listed.series.map((s) => s.name),
    ['ok', 'y'],
  );
});

async function api(path: string): Promise<{ status: number; body: unknown }> {
  const answer = await fetch(`${dashboard.url}${path}`, {
    headers: { authorization: `Bearer ${dashboard.token}` },
  });
  return { status: answer.status, body: await answer.json() };
}

test('GET /api/otlp-metrics and /api/otlp-metrics/series: a bad parameter is a 400 naming it, an unknown series a 404', async () => {
  for (const [path, status, error] of [
    [
      '/api/otlp-metrics?services=a',
      400,
      /^services: not a parameter of \/api\/otlp-metrics \(it takes service\)/,
    ],
    ['/api/otlp-metrics?service=', 400, /^service: empty/],
    ['/api/otlp-metrics/series', 400, /^id: missing/],
    ['/api/otlp-metrics/series?id=abc', 400, /^id: expected a series id \(a positive integer\).*got "abc"/],
    ['/api/otlp-metrics/series?id=1&id=2', 400, /^id: given 2 times/],
    ['/api/otlp-metrics/series?id=999', 404, /^series 999 is not \(or no longer\) kept here/],
  ] as const) {
    const answer = await api(path);
    assert.equal(answer.status, status, path);
    assert.match((answer.body as { error: string }).error, error, path);
  }
});

test('an ExponentialHistogram and a Summary are kept as their count and sum (a delta one added up), exemplars left', async () => {
  const later = String(BigInt(Date.now() + 1) * 1_000_000n);
  const exponential = (time: string, count: string, sum: number) => ({
    name: 'payload.size',
    unit: 'By',
    exponentialHistogram: {
      aggregationTemporality: 1,
      dataPoints: [
        { timeUnixNano: time, count, sum, scale: 3, positive: { offset: 1, bucketCounts: [count] } },
      ],
    },
  });
  const summary = {
    name: 'gc.pause',
    summary: {
      dataPoints: [{ timeUnixNano, count: '4', sum: 9, quantileValues: [{ quantile: 0.5, value: 2 }] }],
    },
  };
  const counter = {
    name: 'requests',
    sum: {
      aggregationTemporality: 2,
      isMonotonic: true,
      // An exemplar's ids are hex in OTLP JSON; they are not read.
      dataPoints: [
        {
          timeUnixNano,
          asInt: '5',
          exemplars: [
            {
              timeUnixNano,
              asDouble: 1,
              traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
              spanId: '00f067aa0ba902b7',
            },
          ],
        },
      ],
    },
  };
  for (const metrics of [
    [exponential(timeUnixNano, '4', 2.5), summary, counter],
    [exponential(later, '3', 1.5)],
  ]) {
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'dotnet' } }] },
          scopeMetrics: [{ metrics }],
        },
      ],
    };
    assert.equal((await post(JSON.stringify(body))).status, 200);
  }
  const { series } = (await api('/api/otlp-metrics?service=dotnet')).body as {
    series: { name: string; kind: string; latest: Record<string, number> }[];
  };
  assert.deepEqual(
    series.map(({ name, kind, latest: { count, sum, value } }) => [name, kind, count ?? value, sum ?? null]),
    [
      ['gc.pause', 'summary', 4, 9],
      ['payload.size', 'exponentialHistogram', 7, 4],
      ['requests', 'sum', 5, null],
    ],
  );
});
