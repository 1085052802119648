/**
 * POST /v1/logs: OTLP log records, JSON or protobuf (gzip or not), from a process
 * that is not berth's, shown on the Logs page as its lines are: service, level,
 * text and the ids that link a line to its trace; bad input is refused as on
 * /v1/traces. The requests are built here, in each encoding, from one description,
 * to reach what an exporter never sends (bad ids, old severities, bodies past the
 * limit); otlp-logs-exporters.test.ts feeds the real exporters.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { create, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { Dashboard } from '../../src/dashboard/dashboard-server.ts';
import type { LogLine } from '../../src/dashboard/log-buffer.ts';
import { ExportLogsServiceRequestSchema } from '../../src/gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.js';
import type { AnyValueSchema } from '../../src/gen/opentelemetry/proto/common/v1/common_pb.js';
import { idleRuntime } from './support/idle-runtime.ts';
import { errorOf } from './support/otlp-status.ts';

const limit = 64 * 1024;
let viaJson: Dashboard;
let viaProtobuf: Dashboard;
before(async () => {
  [viaJson, viaProtobuf] = await Promise.all([
    Dashboard.start({ runtime: idleRuntime, bodyLimitBytes: limit, logLines: 5 }),
    Dashboard.start({ runtime: idleRuntime, bodyLimitBytes: limit, logLines: 5 }),
  ]);
});
after(() => Promise.all([viaJson.close(), viaProtobuf.close()]));

/** One log record as a test describes it; each encoding is built from it. */
interface Described {
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly body?: string;
  readonly traceId?: string;
  readonly spanId?: string;
  readonly attributes?: { readonly [key: string]: string | number };
}

const traceId = '5b8efff798038103d269b633813fc60c';
const spanId = 'eee19b7ec3c1b174';
const timeNs = 1_700_000_000_123_456_789n;

function jsonRequest(records: readonly Described[], service = 'payments-go'): unknown {
  return {
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: { stringValue: service } },
            { key: 'service.instance.id', value: { stringValue: `${service}-a` } },
          ],
        },
        scopeLogs: [
          {
            scope: { name: 'log/slog' },
            logRecords: records.map((record) => ({
              timeUnixNano: String(timeNs),
              severityNumber: record.severityNumber,
              severityText: record.severityText,
              body: record.body === undefined ? undefined : { stringValue: record.body },
              attributes: Object.entries(record.attributes ?? {}).map(([key, value]) => ({
                key,
                value: typeof value === 'string' ? { stringValue: value } : { intValue: String(value) },
              })),
              traceId: record.traceId,
              spanId: record.spanId,
            })),
          },
        ],
      },
    ],
  };
}

const protoValue = (value: string | number): MessageInitShape<typeof AnyValueSchema> =>
  typeof value === 'string'
    ? { value: { case: 'stringValue', value } }
    : { value: { case: 'intValue', value: BigInt(value) } };

function protobufRequest(records: readonly Described[], service = 'payments-go'): Uint8Array<ArrayBuffer> {
  const message = create(ExportLogsServiceRequestSchema, {
    resourceLogs: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: protoValue(service) },
            { key: 'service.instance.id', value: protoValue(`${service}-a`) },
          ],
        },
        scopeLogs: [
          {
            scope: { name: 'log/slog' },
            logRecords: records.map((record) => ({
              timeUnixNano: timeNs,
              severityNumber: record.severityNumber ?? 0,
              severityText: record.severityText ?? '',
              body: record.body === undefined ? undefined : protoValue(record.body),
              attributes: Object.entries(record.attributes ?? {}).map(([key, value]) => ({
                key,
                value: protoValue(value),
              })),
              traceId: Buffer.from(record.traceId ?? '', 'hex'),
              spanId: Buffer.from(record.spanId ?? '', 'hex'),
            })),
          },
        ],
      },
    ],
  });
  return new Uint8Array(toBinary(ExportLogsServiceRequestSchema, message));
}

function post(
  dashboard: Dashboard,
  body: string | Uint8Array<ArrayBuffer>,
  headers: { readonly [name: string]: string } = {},
) {
  return fetch(`${dashboard.url}/v1/logs`, {
    method: 'POST',
    headers: {
      'content-type': typeof body === 'string' ? 'application/json' : 'application/x-protobuf',
      authorization: `Bearer ${dashboard.ingestToken}`,
      ...headers,
    },
    body,
  });
}

async function logsOf(dashboard: Dashboard, query = ''): Promise<LogLine[]> {
  const answer = await fetch(`${dashboard.url}/api/logs?${query}`, {
    headers: { authorization: `Bearer ${dashboard.token}` },
  });
  return ((await answer.json()) as { lines: LogLine[] }).lines;
}

const records: Described[] = [
  { severityNumber: 9, severityText: 'INFO', body: 'charging card', attributes: { amount: 1250 } },
  { severityNumber: 13, severityText: 'WARN', body: 'card declined, retrying', traceId, spanId },
  { severityText: 'WARNING', body: 'no number, only a Python text' },
  {
    severityNumber: 18,
    severityText: 'ERROR2',
    body: 'gave up',
    traceId,
    spanId,
    attributes: { code: 'E42' },
  },
];

test('log records in either encoding are lines of the Logs page: service, level, text, trace', async () => {
  const [json, protobuf] = await Promise.all([
    post(viaJson, JSON.stringify(jsonRequest(records))),
    post(viaProtobuf, protobufRequest(records)),
  ]);
  assert.equal(json.status, 200);
  assert.deepEqual(await json.json(), {});
  assert.equal(protobuf.status, 200);
  assert.equal(protobuf.headers.get('content-type'), 'application/x-protobuf');
  assert.equal((await protobuf.arrayBuffer()).byteLength, 0, 'an empty ExportLogsServiceResponse');

  const lines = await logsOf(viaJson);
  assert.deepEqual(
    lines.map((line) => [line.instance, line.service, line.level, line.message, line.traceId, line.spanId]),
    [
      ['payments-go-a', 'payments-go', 'info', 'charging card', undefined, undefined],
      ['payments-go-a', 'payments-go', 'warn', 'card declined, retrying', traceId, spanId],
      ['payments-go-a', 'payments-go', 'warn', 'no number, only a Python text', undefined, undefined],
      ['payments-go-a', 'payments-go', 'error', 'gave up', traceId, spanId],
    ],
  );
  assert.ok(lines.every((line) => line.timeMs === 1_700_000_000_123.456));
  assert.deepEqual(await logsOf(viaProtobuf), lines, 'protobuf gives the very same lines');

  // The page's filters: level and above, trace id, text in the line (attributes included).
  const messages = async (query: string) => (await logsOf(viaJson, query)).map((line) => line.message);
  assert.deepEqual(await messages('level=error'), ['gave up']);
  assert.deepEqual(await messages(`trace=${traceId}`), ['card declined, retrying', 'gave up']);
  assert.deepEqual(await messages('text=E42'), ['gave up']);
  assert.deepEqual(await messages('service=payments-go&text=1250'), ['charging card']);
});

test('gzip bodies are read, within the same limit', async () => {
  const before = viaProtobuf.logs.lastSeq;
  const gzipped = await post(
    viaProtobuf,
    new Uint8Array(gzipSync(protobufRequest([{ body: 'compressed' }]))),
    {
      'content-encoding': 'gzip',
    },
  );
  assert.equal(gzipped.status, 200);
  await gzipped.arrayBuffer();
  assert.deepEqual(
    (await logsOf(viaProtobuf, `after=${before}`)).map((line) => line.message),
    ['compressed'],
  );

  const bomb = await post(viaProtobuf, new Uint8Array(gzipSync(Buffer.alloc(limit * 64))), {
    'content-encoding': 'gzip',
  });
  assert.equal(bomb.status, 413);
  assert.match(await errorOf(bomb), /over 65536 bytes once inflated/);
});

test('bad input: 400 naming the field, 415, 413, 401, and nothing kept', async () => {
  const before = viaJson.logs.lastSeq;
  const badTrace = await post(viaJson, JSON.stringify(jsonRequest([{ body: 'x', traceId: 'abc' }])));
  assert.equal(badTrace.status, 400);
  assert.equal(
    await errorOf(badTrace),
    'resourceLogs[0].scopeLogs[0].logRecords[0].traceId: expected 32 hex digits',
  );
  const named = jsonRequest([{ body: 'x' }]) as {
    resourceLogs: [{ scopeLogs: [{ logRecords: [{ severityNumber?: unknown }] }] }];
  };
  named.resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber = 'SEVERITY_NUMBER_WARN';
  const enumName = await post(viaJson, JSON.stringify(named));
  assert.equal(enumName.status, 400);
  assert.equal(
    await errorOf(enumName),
    'resourceLogs[0].scopeLogs[0].logRecords[0].severityNumber: expected an integer (OTLP JSON writes enums as numbers)',
  );
  const notArray = await post(viaJson, JSON.stringify({ resourceLogs: {} }));
  assert.equal(await errorOf(notArray), 'resourceLogs: expected an array');
  const notJson = await post(viaJson, '{"resourceLogs": [');
  assert.match(await errorOf(notJson), /^the body is not JSON/);

  const garbage = await post(viaProtobuf, new Uint8Array([0x0a, 0xff, 0xff]));
  assert.equal(garbage.status, 400);
  assert.match(await errorOf(garbage), /^the body is not a protobuf ExportLogsServiceRequest: \S/);
  const shortSpan = await post(viaProtobuf, protobufRequest([{ body: 'x', traceId, spanId: 'abcdef' }]));
  assert.equal(shortSpan.status, 400);
  assert.equal(
    await errorOf(shortSpan),
    'resourceLogs[0].scopeLogs[0].logRecords[0].spanId: expected 8 bytes, got 3',
  );

  const text = await post(viaJson, 'hello', { 'content-type': 'text/plain' });
  assert.equal(text.status, 415);
  assert.match(await errorOf(text), /application\/x-protobuf or application\/json, got "text\/plain"/);
  const big = await post(viaJson, ' '.repeat(limit + 1));
  assert.equal(big.status, 413);
  assert.match(await errorOf(big), /over 65536 bytes/);

  const pageToken = await post(viaJson, JSON.stringify(jsonRequest([{ body: 'x' }])), {
    authorization: `Bearer ${viaJson.token}`,
  });
  assert.equal(pageToken.status, 401);
  assert.match(await errorOf(pageToken), /ingest token/);
  const get = await fetch(`${viaJson.url}/v1/logs`, {
    headers: { authorization: `Bearer ${viaJson.ingestToken}` },
  });
  assert.equal(get.status, 405);
  await get.arrayBuffer();

  assert.equal(viaJson.logs.lastSeq, before, 'nothing kept');
});

test('bounded: a batch larger than the buffer keeps its last lines, a long body is cut', async () => {
  const many = Array.from({ length: 8 }, (_, i) => ({ body: `line ${i}` }));
  assert.equal((await post(viaJson, JSON.stringify(jsonRequest(many, 'chatty')))).status, 200);
  assert.deepEqual(
    (await logsOf(viaJson, 'service=chatty')).map((line) => line.message),
    ['line 3', 'line 4', 'line 5', 'line 6', 'line 7'],
  );
  assert.equal(
    (await post(viaJson, JSON.stringify(jsonRequest([{ body: 'x'.repeat(20_000) }])))).status,
    200,
  );
  const [long] = (await logsOf(viaJson)).slice(-1);
  assert.equal(long?.message, `${'x'.repeat(8192)}…`);
});
