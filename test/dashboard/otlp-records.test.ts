/**
 * The one mapping both OTLP readers share (src/dashboard/otlp-records.ts): what a
 * span or log record leaves unset (absent or zero in JSON, zero in protobuf) reads
 * the same in both, as do the numbered enums.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create, toBinary } from '@bufbuild/protobuf';
import { readOtlpLogs, readOtlpTraces } from '../../src/dashboard/otlp-json.ts';
import { readOtlpLogsProto, readOtlpTracesProto } from '../../src/dashboard/otlp-proto.ts';
import { ExportLogsServiceRequestSchema } from '../../src/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import { ExportTraceServiceRequestSchema } from '../../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';

const traceId = 'ab'.repeat(16);
const spanId = 'cd'.repeat(8);
const startNs = 1_700_000_000_000_000_000n;

test('a span with no end, no status and an event at time 0 (unset): the same in either encoding', () => {
  const json = readOtlpTraces({
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              {
                traceId,
                spanId,
                name: 'instant',
                kind: 4,
                startTimeUnixNano: String(startNs),
                events: [{ name: 'e', timeUnixNano: '0' }],
              },
            ],
          },
        ],
      },
    ],
  });
  const protobuf = readOtlpTracesProto(
    toBinary(
      ExportTraceServiceRequestSchema,
      create(ExportTraceServiceRequestSchema, {
        resourceSpans: [
          {
            scopeSpans: [
              {
                spans: [
                  {
                    traceId: Buffer.from(traceId, 'hex'),
                    spanId: Buffer.from(spanId, 'hex'),
                    name: 'instant',
                    kind: 4,
                    startTimeUnixNano: startNs,
                    events: [{ name: 'e' }],
                  },
                ],
              },
            ],
          },
        ],
      }),
    ),
  );
  assert.deepEqual(protobuf, json);
  assert.deepEqual(
    json.map(({ service, kind, durationMs, status, statusMessage, parentSpanId, events }) => ({
      service,
      kind,
      durationMs,
      status,
      statusMessage,
      parentSpanId,
      events,
    })),
    [
      {
        service: '?',
        kind: 'producer',
        durationMs: 0,
        status: 'unset',
        statusMessage: undefined,
        parentSpanId: undefined,
        events: [{ name: 'e', timeMs: 1_700_000_000_000, attributes: {} }],
      },
    ],
  );
});

test('a log record with only its observed time, no ids and no body: the same in either encoding', () => {
  const json = readOtlpLogs({
    resourceLogs: [
      {
        scopeLogs: [{ logRecords: [{ observedTimeUnixNano: String(startNs), severityNumber: 21 }] }],
      },
    ],
  });
  const protobuf = readOtlpLogsProto(
    toBinary(
      ExportLogsServiceRequestSchema,
      create(ExportLogsServiceRequestSchema, {
        resourceLogs: [
          { scopeLogs: [{ logRecords: [{ observedTimeUnixNano: startNs, severityNumber: 21 }] }] },
        ],
      }),
    ),
  );
  assert.deepEqual(protobuf, json);
  assert.deepEqual(json, [
    {
      instance: '?',
      service: '?',
      timeMs: 1_700_000_000_000,
      level: 'fatal',
      message: '',
      traceId: undefined,
      spanId: undefined,
      raw: '{"level":"fatal","msg":""}',
    },
  ]);
});
