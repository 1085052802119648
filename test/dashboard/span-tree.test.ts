/** The waterfall's order (assets/span-tree.js, the page's own module, run here in Node). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

interface TreeSpan {
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly startMs: number;
}
// A variable specifier: the page's plain JavaScript is not part of the typed sources.
const module = '../../src/dashboard/assets/span-tree.js';
const { inTreeOrder } = (await import(module)) as {
  inTreeOrder: (spans: readonly TreeSpan[]) => Array<{ span: TreeSpan; depth: number }>;
};
const order = (spans: readonly TreeSpan[]) =>
  inTreeOrder(spans).map(({ span, depth }) => `${span.spanId}@${depth}`);

test('each span after its parent, siblings by start; a missing parent puts a span at the top', () => {
  assert.deepEqual(
    order([
      { spanId: 'c', parentSpanId: 'a', startMs: 3 },
      { spanId: 'a', startMs: 1 },
      { spanId: 'b', parentSpanId: 'a', startMs: 2 },
      { spanId: 'd', parentSpanId: 'never-received', startMs: 4 },
    ]),
    ['a@0', 'b@1', 'c@1', 'd@0'],
  );
});

test('a span that is its own parent, or two that are each other’s, are shown once each, at the top', () => {
  assert.deepEqual(
    order([
      { spanId: 'a', startMs: 1 },
      { spanId: 'self', parentSpanId: 'self', startMs: 2 },
      { spanId: 'x', parentSpanId: 'y', startMs: 3 },
      { spanId: 'y', parentSpanId: 'x', startMs: 4 },
    ]),
    ['a@0', 'self@0', 'x@0', 'y@1'],
  );
});
