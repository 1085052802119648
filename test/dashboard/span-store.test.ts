/**
 * The span store's bounds (a span received twice is kept once; long strings and many
 * events are cut) and its filter by attribute, of a span or of its resource.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseAttributeFilters } from '../../src/dashboard/attribute-filter.ts';
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
  resource: { 'service.name': 'vessel' },
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

describe('the list filtered by attribute', () => {
  const ids = { find: 'f'.repeat(32), failed: 'e'.repeat(32), plain: 'c'.repeat(32) };
  const store = new SpanStore();
  store.add([
    span('0000000000000001', {
      traceId: ids.find,
      attributes: { 'rpc.method': 'FindAvailable', 'rpc.system': 'connect_rpc' },
      resource: { 'service.name': 'vessel', 'service.instance.id': 'vessel-2' },
    }),
    span('0000000000000002', { traceId: ids.find, attributes: { 'http.response.status_code': 200 } }),
    span('0000000000000003', {
      traceId: ids.failed,
      attributes: { 'rpc.method': 'FindAvailable', 'http.response.status_code': 503, retried: true },
    }),
    span('0000000000000004', { traceId: ids.plain, attributes: { tags: ['a', 'b'] } }),
  ]);
  const found = (...filters: string[]) =>
    store
      .list({ attributes: parseAttributeFilters(filters) })
      .map((trace) => trace.traceId)
      .sort();

  test("a span's attribute equal to the value", () => {
    assert.deepEqual(found('rpc.method=FindAvailable'), [ids.failed, ids.find].sort());
    assert.deepEqual(found('rpc.method=List'), []);
  });

  test("its resource's attribute", () => {
    assert.deepEqual(found('service.instance.id=vessel-2'), [ids.find]);
  });

  test('the key alone: the attribute is set, to anything', () => {
    assert.deepEqual(found('http.response.status_code'), [ids.failed, ids.find].sort());
    // Object's own members are no attributes.
    assert.deepEqual(found('constructor'), []);
  });

  test('numbers, booleans and list items compare as their text', () => {
    assert.deepEqual(found('http.response.status_code=503'), [ids.failed]);
    assert.deepEqual(found('retried=true'), [ids.failed]);
    assert.deepEqual(found('tags=b'), [ids.plain]);
  });

  test('several filters: all must match, each on any span of the trace', () => {
    assert.deepEqual(found('service.instance.id=vessel-2', 'http.response.status_code=200'), [ids.find]);
    assert.deepEqual(found('rpc.method=FindAvailable', 'http.response.status_code=503'), [ids.failed]);
    assert.deepEqual(found('rpc.method=FindAvailable', 'tags'), []);
  });
});

test('a filter that is not one: an error naming it', () => {
  assert.throws(() => parseAttributeFilters(['=503']), { message: /^"=503": empty key/ });
  assert.throws(() => parseAttributeFilters(Array(11).fill('k')), /11 filters given, at most 10/);
  assert.throws(
    () => parseAttributeFilters([`k=${'v'.repeat(257)}`]),
    /value of 257 characters, at most 256/,
  );
  assert.deepEqual(parseAttributeFilters(['a=b=c', 'k', 'e=']), [
    { key: 'a', value: 'b=c' },
    { key: 'k', value: undefined },
    { key: 'e', value: '' },
  ]);
});
