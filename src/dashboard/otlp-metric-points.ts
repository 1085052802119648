/**
 * OTLP metrics, in either encoding, read into flat data points for the store
 * (otlp-metric-store.ts): one per (resource, metric, data point), with its
 * resource's `service.name`. Protobuf is decoded by the generated schema
 * (otlp-proto.ts); the OTLP JSON mapping of metrics is protobuf's own JSON mapping
 * but for trace and span ids, which only exemplars carry and the dashboard does
 * not read, so JSON goes through the same schema (`fromJson`). Both then meet the
 * same checks here, each failure an OtlpInputError naming the field.
 */
import { fromJson, type JsonValue } from '@bufbuild/protobuf';
import {
  type ExportMetricsServiceRequest,
  ExportMetricsServiceRequestSchema,
} from '../gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import {
  AggregationTemporality,
  DataPointFlags,
  type HistogramDataPoint,
  type Metric,
  type NumberDataPoint,
} from '../gen/opentelemetry/proto/metrics/v1/metrics_pb.js';
import { type AttributeValue, OtlpInputError } from './otlp-json.ts';
import { attributes, decode } from './otlp-proto.ts';
import { nanosToMs, serviceOf } from './otlp-records.ts';

export type OtlpMetricKind = 'sum' | 'gauge' | 'histogram' | 'exponentialHistogram' | 'summary';
export type Temporality = 'delta' | 'cumulative';

/** What a metric's points belong to: the service, the metric and its attribute set. */
export interface MetricIdentity {
  readonly service: string;
  readonly name: string;
  readonly unit: string;
  readonly description: string;
  readonly kind: OtlpMetricKind;
  /** Sum and the histograms; a Gauge and a Summary have none. */
  readonly temporality: Temporality | undefined;
  /** Sum only. */
  readonly monotonic: boolean | undefined;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
}

/** One data point with what it belongs to; the numbers its kind has (a Sum's value, a Histogram's count…). */
export interface MetricPoint extends MetricIdentity {
  readonly timeMs: number;
  /** Undefined: not set (0), as a Gauge's usually is. */
  readonly startMs: number | undefined;
  /** Sum and Gauge. */
  readonly value?: number;
  /** Histogram, ExponentialHistogram, Summary. */
  readonly count?: number;
  readonly sum?: number;
  /** Histogram: its explicit bounds, and a count per bucket (one more than the bounds). */
  readonly bounds?: readonly number[];
  readonly bucketCounts?: readonly number[];
  /** Histogram: the largest value measured, when the SDK sends it. */
  readonly max?: number;
}

/** The points of a binary ExportMetricsServiceRequest; throws OtlpInputError. */
export function readOtlpMetricsProto(body: Uint8Array): MetricPoint[] {
  return pointsOfExport(decode(ExportMetricsServiceRequestSchema, body));
}

/** The points of an ExportMetricsServiceRequest in the OTLP JSON mapping; throws OtlpInputError. */
export function readOtlpMetricsJson(body: unknown): MetricPoint[] {
  let request: ExportMetricsServiceRequest;
  try {
    // Unknown fields are left, as a newer SDK's would be by protobuf.
    request = fromJson(ExportMetricsServiceRequestSchema, body as JsonValue, { ignoreUnknownFields: true });
  } catch (error) {
    throw new OtlpInputError(
      `the body is not an OTLP JSON ExportMetricsServiceRequest: ${(error as Error).message}`,
    );
  }
  return pointsOfExport(request);
}

/** The points of an ExportMetricsServiceRequest already decoded (the gRPC receiver's too); throws OtlpInputError. */
export function pointsOfExport(request: ExportMetricsServiceRequest): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const [r, resourceMetrics] of request.resourceMetrics.entries()) {
    const service = serviceOf(attributes(resourceMetrics.resource?.attributes ?? []));
    for (const [s, scopeMetrics] of resourceMetrics.scopeMetrics.entries()) {
      for (const [m, metric] of scopeMetrics.metrics.entries()) {
        points.push(
          ...metricPoints(metric, service, `resourceMetrics[${r}].scopeMetrics[${s}].metrics[${m}]`),
        );
      }
    }
  }
  return points;
}

const kinds = 'gauge, sum, histogram, exponentialHistogram or summary';

function metricPoints(metric: Metric, service: string, path: string): MetricPoint[] {
  if (metric.name === '') throw new OtlpInputError(`${path}.name: expected the metric's name`);
  const { data } = metric;
  if (data.case === undefined) throw new OtlpInputError(`${path}: expected its data (${kinds})`);
  const kind = data.case;
  const dataPath = `${path}.${kind}`;
  const temporality =
    data.case === 'gauge' || data.case === 'summary'
      ? undefined
      : temporalityOf(data.value.aggregationTemporality, `${dataPath}.aggregationTemporality`);
  const common = {
    service,
    name: metric.name,
    unit: metric.unit,
    description: metric.description,
    kind,
    temporality,
    monotonic: data.case === 'sum' ? data.value.isMonotonic : undefined,
  };
  const points: MetricPoint[] = [];
  for (const [i, point] of data.value.dataPoints.entries()) {
    // A point that says it has no value (a staleness marker) has nothing to show.
    if ((point.flags & DataPointFlags.NO_RECORDED_VALUE_MASK) !== 0) continue;
    const pointPath = `${dataPath}.dataPoints[${i}]`;
    if (point.timeUnixNano === 0n)
      throw new OtlpInputError(`${pointPath}.timeUnixNano: expected the point's time`);
    const base = {
      ...common,
      attributes: attributes(point.attributes),
      timeMs: nanosToMs(point.timeUnixNano),
      startMs: point.startTimeUnixNano === 0n ? undefined : nanosToMs(point.startTimeUnixNano),
    };
    switch (data.case) {
      case 'gauge':
      case 'sum':
        points.push({ ...base, value: numberOf(point as NumberDataPoint, pointPath) });
        break;
      case 'histogram':
        points.push({ ...base, ...histogram(point as HistogramDataPoint, pointPath) });
        break;
      default: {
        // ExponentialHistogram and Summary: their count and sum only (docs/dashboard.md).
        const counted = point as { count: bigint; sum?: number };
        points.push({ ...base, count: Number(counted.count), sum: counted.sum ?? 0 });
      }
    }
  }
  return points;
}

function temporalityOf(temporality: AggregationTemporality, path: string): Temporality {
  if (temporality === AggregationTemporality.DELTA) return 'delta';
  if (temporality === AggregationTemporality.CUMULATIVE) return 'cumulative';
  throw new OtlpInputError(`${path}: expected 1 (delta) or 2 (cumulative), got ${temporality}`);
}

function numberOf(point: NumberDataPoint, path: string): number {
  const { value } = point;
  if (value.case === undefined) throw new OtlpInputError(`${path}: expected asDouble or asInt`);
  return Number(value.value);
}

function histogram(point: HistogramDataPoint, path: string) {
  const bounds = point.explicitBounds;
  const bucketCounts = point.bucketCounts.map(Number);
  if (bucketCounts.length !== 0 && bucketCounts.length !== bounds.length + 1) {
    throw new OtlpInputError(
      `${path}.bucketCounts: expected ${bounds.length + 1} counts (one more than explicitBounds' ${bounds.length}), got ${bucketCounts.length}`,
    );
  }
  for (let i = 1; i < bounds.length; i += 1) {
    if (!(bounds[i]! > bounds[i - 1]!)) {
      throw new OtlpInputError(`${path}.explicitBounds[${i}]: expected more than the bound before it`);
    }
  }
  return { count: Number(point.count), sum: point.sum ?? 0, bounds, bucketCounts, max: point.max };
}
