// A trace's spans as the waterfall shows them: each after its parent, siblings by
// start. No DOM: test/dashboard/span-tree.test.ts runs it in Node.

const byStart = (a, b) => a.startMs - b.startMs;

/**
 * Spans in tree order with their depth. A span whose parent was never received
 * starts at the top; so does one that no root reaches (its own parent, or two
 * each other's: an exporter's bug must not hang the page), each span once.
 */
export function inTreeOrder(spans) {
  const ids = new Set(spans.map((span) => span.spanId));
  const children = new Map();
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : '';
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(span);
  }
  const ordered = [];
  const placed = new Set();
  const place = (span, depth) => {
    if (placed.has(span)) return;
    placed.add(span);
    ordered.push({ span, depth });
    for (const child of [...(children.get(span.spanId) ?? [])].sort(byStart)) place(child, depth + 1);
  };
  for (const span of [...(children.get('') ?? [])].sort(byStart)) place(span, 0);
  for (const span of [...spans].sort(byStart)) place(span, 0);
  return ordered;
}
