/**
 * The dashboard's OTLP/HTTP receiver: POST /v1/traces, /v1/logs and /v1/metrics, each in
 * either encoding by Content-Type (application/x-protobuf, application/json),
 * gzip or not by Content-Encoding (http-io.ts), read into flat records
 * (otlp-proto.ts, otlp-json.ts, otlp-metric-points.ts) and kept bounded
 * (span-store.ts, log-buffer.ts, otlp-metric-store.ts).
 * Nothing of a refused request is kept: it is read whole before any of it is.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodedBodyOf, HttpError, jsonOf, mediaTypeOf, send, sendJson } from './http-io.ts';
import type { LogBuffer } from './log-buffer.ts';
import { OtlpInputError, readOtlpLogs, readOtlpTraces } from './otlp-json.ts';
import { readOtlpMetricsJson, readOtlpMetricsProto } from './otlp-metric-points.ts';
import type { OtlpMetricStore } from './otlp-metric-store.ts';
import { readOtlpLogsProto, readOtlpTracesProto } from './otlp-proto.ts';
import type { SpanStore } from './span-store.ts';

export interface OtlpSinks {
  readonly spans: SpanStore;
  readonly logs: LogBuffer;
  readonly otlpMetrics: OtlpMetricStore;
}

/** Each path's body read (protobuf or JSON) and kept: a body that does not read throws before anything is kept. */
const receivers: Readonly<Record<string, (sinks: OtlpSinks, body: Buffer, protobuf: boolean) => void>> = {
  '/v1/traces': (sinks, body, protobuf) =>
    sinks.spans.add(protobuf ? readOtlpTracesProto(body) : readOtlpTraces(jsonOf(body))),
  '/v1/logs': (sinks, body, protobuf) =>
    sinks.logs.addEntries(protobuf ? readOtlpLogsProto(body) : readOtlpLogs(jsonOf(body))),
  '/v1/metrics': (sinks, body, protobuf) =>
    sinks.otlpMetrics.add(protobuf ? readOtlpMetricsProto(body) : readOtlpMetricsJson(jsonOf(body))),
};

/** The paths this receiver answers: the ones the ingest token opens (access-token.ts). */
export const otlpPaths: readonly string[] = Object.keys(receivers);

/** A request to one of otlpPaths, answered. */
export async function receiveOtlp(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  sinks: OtlpSinks,
  limitBytes: number,
): Promise<void> {
  if (req.method !== 'POST') throw new HttpError(405, `POST OTLP/HTTP (protobuf or JSON) to ${path}`);
  const type = mediaTypeOf(req);
  const protobuf = type === 'application/x-protobuf';
  if (!protobuf && type !== 'application/json') {
    throw new HttpError(
      415,
      `OTLP/HTTP is received here as application/x-protobuf or application/json, got "${type || 'none'}"`,
    );
  }
  const body = await decodedBodyOf(req, res, limitBytes);
  try {
    receivers[path]!(sinks, body, protobuf);
  } catch (error) {
    // What is wrong and where: `resourceLogs[0].scopeLogs[0].logRecords[2].traceId: expected 32 hex digits`.
    if (error instanceof OtlpInputError) throw new HttpError(400, error.message);
    throw error;
  }
  // Answered in the request's encoding, as OTLP/HTTP asks: an empty Export…ServiceResponse.
  return protobuf ? send(res, 200, 'application/x-protobuf', Buffer.alloc(0)) : sendJson(res, 200, {});
}
