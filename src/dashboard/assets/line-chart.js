// A small line chart of one value over time, in plain SVG: no library, nothing to
// build. The plot stretches to its box (preserveAspectRatio="none", strokes kept
// at their width by vector-effect), so it fills 360 px and 1280 px alike; the
// axis labels are HTML beside it, never squeezed with the drawing. A person who
// cannot see it reads its aria-label: latest, max, how many windows and when.
import { h } from './dom.js';

const svgNs = 'http://www.w3.org/2000/svg';
/** The drawing's own units: the plot is `width` × `height`, whatever its size on screen. */
const width = 1000;
const height = 200;

function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(svgNs, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

/** The top of the y axis: 1, 2 or 5 times a power of ten, at or above `max` and `floor`. */
function axisTop(max, floor) {
  const top = Math.max(max, floor);
  const power = 10 ** Math.floor(Math.log10(top));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= top * (1 - 1e-9));
}

/** `18:02:10`: seconds are enough on a chart of windows a few seconds long. */
const clock = (timeMs) => new Date(timeMs).toLocaleTimeString([], { hour12: false });

/** `12`, `0.5`, `2500`: an axis bound without float noise. */
const bound = (value) => String(Number(value.toPrecision(3)));

/**
 * A chart of `points` ([{atMs, startMs, value}], oldest first; value undefined
 * where the window had nothing to measure: the line breaks there).
 * `unit` names the y axis (`req/s`), `format` a value in the text alternative,
 * `floor` the smallest top of the y axis (an all-zero series is a flat line, not a divide by zero).
 */
export function lineChart({ title, subject, unit, format, floor, points }) {
  const measured = points.filter((point) => point.value !== undefined && point.value !== null);
  const top = axisTop(Math.max(0, ...measured.map((point) => point.value)), floor);
  const startMs = points[0]?.startMs ?? 0;
  const spanMs = Math.max(1, (points.at(-1)?.atMs ?? 0) - startMs);
  const x = (atMs) => (((atMs - startMs) / spanMs) * width).toFixed(1);
  const y = (value) => (height - (value / top) * height).toFixed(1);

  let line = '';
  let drawing = false;
  for (const point of points) {
    const measuredHere = point.value !== undefined && point.value !== null;
    if (measuredHere) line += `${drawing ? 'L' : 'M'}${x(point.atMs)} ${y(point.value)} `;
    drawing = measuredHere;
  }
  const plot = svg(
    'svg',
    {
      class: 'chart-svg',
      viewBox: `0 0 ${width} ${height}`,
      preserveAspectRatio: 'none',
      'aria-hidden': 'true',
      focusable: 'false',
    },
    svg('line', { class: 'chart-grid', x1: 0, x2: width, y1: height / 2, y2: height / 2 }),
    svg('path', { class: 'chart-line', d: line.trim() }),
    // A dot per window: a zero-length segment with round caps stays round however the plot is stretched.
    ...measured.map((point) =>
      svg('path', {
        class: 'chart-point',
        d: `M${x(point.atMs)} ${y(point.value)} h0`,
        'data-value': point.value,
      }),
    ),
  );
  return h(
    'div',
    { class: 'chart' },
    h('h3', {}, title),
    h(
      'div',
      {
        class: 'chart-plot',
        role: 'img',
        'aria-label': `${title} of ${subject}: ${summary(points, measured, format)}`,
      },
      h(
        'div',
        { class: 'chart-y', 'aria-hidden': 'true' },
        h('span', {}, `${bound(top)} ${unit}`),
        h('span', {}, `${bound(top / 2)}`),
        h('span', {}, `0 ${unit}`),
      ),
      plot,
      // Under the plot, its ends aligned with the plot's: where the first window began and the last ended.
      h(
        'div',
        { class: 'chart-x', 'aria-hidden': 'true' },
        h('span', {}, points.length > 0 ? clock(startMs) : '–'),
        h('span', {}, 'time'),
        h('span', {}, points.length > 0 ? clock(points.at(-1).atMs) : '–'),
      ),
    ),
  );
}

function summary(points, measured, format) {
  if (points.length === 0) return 'no window measured yet';
  const last = points.at(-1);
  const latest =
    last.value === undefined || last.value === null
      ? 'latest window: no calls'
      : `latest ${format(last.value)}`;
  const max = measured.length > 0 ? `, max ${format(Math.max(...measured.map((p) => p.value)))}` : '';
  const windows = points.length === 1 ? '1 window' : `${points.length} windows`;
  return `${latest}${max}; ${windows}, ${clock(points[0].startMs)} to ${clock(last.atMs)}`;
}
