import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Counts, countsFromMetrics, errorRate, groupDelta, judge, podDelta } from './canary-analysis.ts';

/** What a vessel pod's `/metrics` looks like (prom-client text, shortened). */
const vesselMetrics = (
  ok: number,
  internal: number,
  notFound = 0,
  unavailable = 0,
) => `# HELP berth_rpc_requests_total RPC calls handled, by service, method and Connect code.
# TYPE berth_rpc_requests_total counter
berth_rpc_requests_total{service="vessel",method="VesselService.FindAvailable",code="ok",instance="vessel-7f9-abc"} ${ok}
berth_rpc_requests_total{service="vessel",method="VesselService.FindAvailable",code="internal",instance="vessel-7f9-abc"} ${internal}
berth_rpc_requests_total{service="vessel",method="VesselService.FindAvailable",code="not_found",instance="vessel-7f9-abc"} ${notFound}
berth_rpc_requests_total{service="vessel",method="VesselService.Create",code="unavailable",instance="vessel-7f9-abc"} ${unavailable}
# HELP berth_rpc_requests_total_created never mind
berth_rpc_requests_total_created{service="vessel"} 1700000000
# HELP berth_rpc_duration_seconds RPC call duration in seconds.
# TYPE berth_rpc_duration_seconds histogram
berth_rpc_duration_seconds_bucket{le="0.001",service="vessel",method="VesselService.FindAvailable",code="ok"} 5
berth_rpc_duration_seconds_count{service="vessel",method="VesselService.FindAvailable",code="ok"} ${ok}
process_cpu_seconds_total 1.5
`;

test('requests and server errors of a service, summed over methods and codes', () => {
  assert.deepEqual(countsFromMetrics(vesselMetrics(90, 10, 5, 2), 'vessel'), { requests: 107, errors: 12 });
  // Caller mistakes (not_found) are requests, not errors.
  assert.deepEqual(countsFromMetrics(vesselMetrics(0, 0, 7), 'vessel'), { requests: 7, errors: 0 });
  // Another service's series (a gateway's view) do not count for vessel.
  assert.deepEqual(countsFromMetrics(vesselMetrics(3, 1), 'user'), { requests: 0, errors: 0 });
  assert.deepEqual(countsFromMetrics('', 'vessel'), { requests: 0, errors: 0 });
});

test('every server-side failure code counts as an error; escaped label values parse', () => {
  const text = [
    'internal',
    'unknown',
    'unavailable',
    'data_loss',
    'deadline_exceeded',
    'ok',
    'invalid_argument',
  ]
    .map((code) => `berth_rpc_requests_total{method="a\\"b",service="vessel",code="${code}"} 2`)
    .join('\n');
  assert.deepEqual(countsFromMetrics(text, 'vessel'), { requests: 14, errors: 10 });
  assert.deepEqual(
    countsFromMetrics('berth_rpc_requests_total{service="vessel",code="internal"} 3e1', 'vessel'),
    {
      requests: 30,
      errors: 30,
    },
  );
});

test('deltas over the window; a restarted pod (counter went down) counts from zero; new pods count whole', () => {
  assert.deepEqual(podDelta({ requests: 10, errors: 1 }, { requests: 25, errors: 4 }), {
    requests: 15,
    errors: 3,
  });
  assert.deepEqual(podDelta({ requests: 100, errors: 9 }, { requests: 6, errors: 1 }), {
    requests: 6,
    errors: 1,
  });
  assert.deepEqual(podDelta(undefined, { requests: 6, errors: 1 }), { requests: 6, errors: 1 });
  const start = new Map<string, Counts>([
    ['vessel-a', { requests: 100, errors: 0 }],
    ['vessel-gone', { requests: 50, errors: 50 }],
  ]);
  const end = new Map<string, Counts>([
    ['vessel-a', { requests: 160, errors: 2 }],
    ['vessel-new', { requests: 40, errors: 0 }],
  ]);
  assert.deepEqual(groupDelta(start, end), { requests: 100, errors: 2 });
  assert.equal(errorRate({ requests: 0, errors: 0 }), 0);
  assert.equal(errorRate({ requests: 200, errors: 5 }), 2.5);
});

test('the gate: abort above the max, promote at or below, no judgement under min requests', () => {
  const options = { maxErrorRate: 5, minRequests: 20 };
  const stable = { requests: 700, errors: 0 };
  const faulty = judge({ requests: 300, errors: 150 }, stable, options);
  assert.equal(faulty.verdict, 'abort');
  assert.equal(faulty.canaryShare, 30);
  assert.match(faulty.reason, /50\.0% is above --max-error-rate 5\.0%/);
  assert.equal(judge({ requests: 100, errors: 5 }, stable, options).verdict, 'promote', 'exactly the max');
  assert.equal(judge({ requests: 100, errors: 6 }, stable, options).verdict, 'abort');
  assert.equal(judge({ requests: 100, errors: 0 }, stable, options).verdict, 'promote');
  const quiet = judge({ requests: 19, errors: 19 }, stable, options);
  assert.equal(quiet.verdict, 'inconclusive');
  assert.match(quiet.reason, /not enough traffic to judge/);
  assert.equal(judge({ requests: 0, errors: 0 }, { requests: 0, errors: 0 }, options).canaryShare, 0);
});

test('from two scrapes to a verdict, as the command reads them', () => {
  const read = (texts: Record<string, string>) =>
    new Map(Object.entries(texts).map(([pod, text]) => [pod, countsFromMetrics(text, 'vessel')]));
  const canaryStart = read({ 'vessel-canary-x': vesselMetrics(4, 4) });
  const canaryEnd = read({ 'vessel-canary-x': vesselMetrics(34, 34) });
  const stableStart = read({ 'vessel-a': vesselMetrics(1000, 0), 'vessel-b': vesselMetrics(900, 0) });
  const stableEnd = read({ 'vessel-a': vesselMetrics(1070, 0), 'vessel-b': vesselMetrics(970, 0) });
  const result = judge(groupDelta(canaryStart, canaryEnd), groupDelta(stableStart, stableEnd), {
    maxErrorRate: 5,
    minRequests: 20,
  });
  assert.deepEqual(result.canary, { requests: 60, errors: 30 });
  assert.deepEqual(result.stable, { requests: 140, errors: 0 });
  assert.equal(result.canaryShare, 30);
  assert.equal(result.verdict, 'abort');
});
