/** The span store's bounds: a span received twice is kept once; long strings and many events are cut. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SpanRecord } from '../../src/dashboard/otlp-json.ts';
import { SpanStore } from '../../src/dashboard/span-store.ts';

const traceId = 'a'.repeat(32);
const span = (spanId: string, extra: Partial<SpanRecord> = {}): SpanRecord => ({
  traceId,
  spanId,
  parentSpanId: undefined,
  name: 'GET /',
  kind: 'server',
  service: 'vessel',
  startMs: 1,
  durationMs: 2,
  status: 'unset',
  statusMessage: undefined,
  attributes: {},
  events: [],
  links: [],
  ...extra,
});

test('a batch sent again (an exporter retrying) adds no span', () => {
  const store = new SpanStore();
  const batch = [span('0000000000000001'), span('0000000000000002')];
  store.add(batch);
  store.add(batch);
  assert.equal(store.spanCount, 2);
  assert.equal(store.trace(traceId)!.length, 2);
  assert.equal(store.list()[0]!.spanCount, 2);
});

test('string values past the limit are cut, and events past the limit are not kept', () => {
  const store = new SpanStore({ maxValueChars: 8, maxEventsPerSpan: 2 });
  const event = { name: 'log', timeMs: 1, attributes: { message: 'x'.repeat(100) } };
  store.add([
    span('0000000000000001', {
      name: 'n'.repeat(20),
      statusMessage: 'm'.repeat(20),
      attributes: { sql: 's'.repeat(100), list: ['l'.repeat(20), 3], count: 7 },
      events: [event, event, event],
    }),
  ]);
  const [kept] = store.trace(traceId)!;
  assert.equal(kept!.name, `${'n'.repeat(8)}…`);
  assert.equal(kept!.statusMessage, `${'m'.repeat(8)}…`);
  assert.deepEqual(kept!.attributes, { sql: `${'s'.repeat(8)}…`, list: [`${'l'.repeat(8)}…`, 3], count: 7 });
  assert.equal(kept!.events.length, 2);
  assert.equal(kept!.events[0]!.attributes.message, `${'x'.repeat(8)}…`);
});
