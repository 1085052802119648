/**
 * POST /v1/metrics and MetricsService/Export fed by the real OpenTelemetry metrics
 * exporters (JSON, protobuf, gRPC), each with delta and with cumulative
 * temporality, as an app under berth run would send its own metrics: a counter, a
 * gauge and a histogram, exported twice. GET /api/otlp-metrics and its series show
 * what was recorded: the counter's total, the gauge's last value, the histogram's
 * count, sum and a p95 over each export's interval.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Metadata } from '@grpc/grpc-js';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import {
  AggregationTemporalityPreference,
  OTLPMetricExporter as JsonMetricExporter,
} from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import type { OtlpMetricsAnswer, OtlpSeries } from '../../src/dashboard/otlp-metric-store.ts';
import { idleRuntime } from './support/idle-runtime.ts';

let dashboard: Dashboard;
before(async () => {
  dashboard = await Dashboard.start({ runtime: idleRuntime });
});
after(() => dashboard.close());

type Temporality = 'delta' | 'cumulative';
const preferences: Record<Temporality, AggregationTemporalityPreference> = {
  delta: AggregationTemporalityPreference.DELTA,
  cumulative: AggregationTemporalityPreference.CUMULATIVE,
};

function grpcMetadata(): Metadata {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${dashboard.ingestToken}`);
  return metadata;
}

const exporters: Record<string, (temporality: Temporality) => PushMetricExporter> = {
  json: (temporality) =>
    new JsonMetricExporter({
      url: `${dashboard.url}/v1/metrics`,
      headers: { authorization: `Bearer ${dashboard.ingestToken}` },
      temporalityPreference: preferences[temporality],
    }),
  protobuf: (temporality) =>
    new ProtobufMetricExporter({
      url: `${dashboard.url}/v1/metrics`,
      headers: { authorization: `Bearer ${dashboard.ingestToken}` },
      compression: CompressionAlgorithm.GZIP,
      temporalityPreference: preferences[temporality],
    }),
  grpc: (temporality) =>
    new GrpcMetricExporter({
      url: dashboard.url,
      metadata: grpcMetadata(),
      temporalityPreference: preferences[temporality],
    }),
};

async function get<T>(path: string): Promise<T> {
  const answer = await fetch(`${dashboard.url}${path}`, {
    headers: { authorization: `Bearer ${dashboard.token}` },
  });
  assert.equal(answer.status, 200, await answer.clone().text());
  return (await answer.json()) as T;
}

for (const [encoding, exporterOf] of Object.entries(exporters)) {
  for (const temporality of ['delta', 'cumulative'] as const) {
    test(`the real ${encoding} metrics exporter, ${temporality}: a counter's total, a gauge's last value, a histogram's count, sum and p95`, async () => {
      const service = `orders-${encoding}-${temporality}`;
      // Exported when the test flushes and at shutdown, never on its own.
      const reader = new PeriodicExportingMetricReader({
        exporter: exporterOf(temporality),
        exportIntervalMillis: 3_600_000,
      });
      const provider = new MeterProvider({
        resource: resourceFromAttributes({ 'service.name': service }),
        readers: [reader],
      });
      const meter = provider.getMeter('orders');
      const placed = meter.createCounter('orders.placed', { unit: '{order}' });
      const depth = meter.createGauge('queue.depth');
      const latency = meter.createHistogram('checkout.duration', {
        unit: 'ms',
        advice: { explicitBucketBoundaries: [10, 50, 100, 500] },
      });

      placed.add(3, { region: 'eu' });
      placed.add(4, { region: 'eu' });
      placed.add(1, { region: 'us' });
      depth.record(42);
      for (let i = 0; i < 19; i += 1) latency.record(20);
      latency.record(300);
      await provider.forceFlush();

      placed.add(5, { region: 'eu' });
      depth.record(17);
      for (let i = 0; i < 20; i += 1) latency.record(300);
      // The second export: shutting down exports what is left, once.
      await provider.shutdown();

      const { series } = await get<OtlpMetricsAnswer>(`/api/otlp-metrics?service=${service}`);
      const of = (name: string, attributes: Record<string, string> = {}) => {
        const found = series.find(
          (s) => s.name === name && JSON.stringify(s.attributes) === JSON.stringify(attributes),
        );
        assert.ok(found, `${name} ${JSON.stringify(attributes)} among ${JSON.stringify(series)}`);
        return found;
      };
      assert.equal(series.length, 4, JSON.stringify(series));

      const eu = of('orders.placed', { region: 'eu' });
      assert.deepEqual(
        [eu.kind, eu.temporality, eu.monotonic, eu.unit],
        ['sum', temporality, true, '{order}'],
      );
      assert.equal(eu.latest.value, 12);
      assert.equal(of('orders.placed', { region: 'us' }).latest.value, 1);
      const gauge = of('queue.depth');
      assert.deepEqual([gauge.kind, gauge.latest.value], ['gauge', 17]);
      const histogram = of('checkout.duration');
      assert.deepEqual(
        [histogram.kind, histogram.unit, histogram.latest.count, histogram.latest.sum, histogram.latest.p95],
        ['histogram', 'ms', 40, 19 * 20 + 21 * 300, 500],
      );

      // The history: one point per export, the first export's numbers then the totals.
      const points = async (id: number) =>
        (await get<OtlpSeries>(`/api/otlp-metrics/series?id=${id}`)).points;
      assert.deepEqual(
        (await points(eu.id)).map((p) => p.value),
        [7, 12],
      );
      assert.deepEqual(
        (await points(histogram.id)).map((p) => [p.count, p.sum, p.p95]),
        [
          [20, 19 * 20 + 300, 50],
          [40, 19 * 20 + 21 * 300, 500],
        ],
      );
      // A gauge's points: each the last value recorded before its export.
      assert.deepEqual(
        (await points(gauge.id)).map((p) => p.value),
        [42, 17],
      );
    });
  }
}
