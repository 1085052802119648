// The Metrics page's second section: the metrics apps export to the dashboard over
// OTLP (POST /v1/metrics, MetricsService/Export), not the RPC metrics it scrapes. A
// table of the series kept (of one service, when one is chosen), with each one's
// latest numbers, and a chart of the series chosen. As the section above, each
// poll replaces the table's rows and the chart only: the choosers keep focus and value.
import { api, field, h, showTable } from './dom.js';
import { lineChart } from './line-chart.js';

const headers = ['Service', 'Metric', 'Attributes', 'Latest', 'Unit'];
const allServices = '';

/** `1234.5`, `0.0012`: four significant digits, no float noise; NaN or ±Infinity (null in JSON): `–`. */
const number = (value) => (typeof value === 'number' ? String(Number(value.toPrecision(4))) : '–');

/** What a series' chart shows of each point, by the kind of metric. */
function plotted(kind) {
  if (kind === 'sum' || kind === 'gauge') return { title: 'Value', value: (point) => point.value };
  if (kind === 'histogram') return { title: 'p95', value: (point) => point.p95 };
  return { title: 'Count', value: (point) => point.count };
}

function latestText({ kind, latest }) {
  if (kind === 'sum' || kind === 'gauge') return number(latest.value);
  const counted = `count ${number(latest.count)}, sum ${number(latest.sum)}`;
  if (kind !== 'histogram') return counted;
  return `${counted}, p95 ${latest.p95 === undefined ? '–' : `≤ ${number(latest.p95)}`}`;
}

const attributesText = (attributes) =>
  Object.entries(attributes)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ') || '–';

const kindText = (s) =>
  [s.temporality, s.monotonic === false ? 'non-monotonic' : '', s.kind].filter(Boolean).join(' ');
const nameOf = (s) =>
  `${s.service} ${s.name}${Object.keys(s.attributes).length > 0 ? ` {${attributesText(s.attributes)}}` : ''}`;

function row(s) {
  return h(
    'tr',
    {},
    h('td', {}, s.service),
    h('th', { scope: 'row' }, s.name, h('span', { class: 'hint' }, ` ${kindText(s)}`)),
    h('td', {}, attributesText(s.attributes)),
    h('td', { class: 'num' }, latestText(s)),
    h('td', {}, s.unit || '–'),
  );
}

/** Replaces `select`'s options only when they change: an open or focused chooser is left alone otherwise. */
function offer(select, options, chosen) {
  const current = [...select.options].map((option) => `${option.value}\n${option.textContent}`);
  if (current.join('\n') !== options.map(([value, text]) => `${value}\n${text}`).join('\n')) {
    select.replaceChildren(...options.map(([value, text]) => h('option', { value }, text)));
  }
  select.value = chosen;
}

/** The section, and the refresh the Metrics page's poll calls. */
export function otlpMetricsSection() {
  const serviceChooser = h('select', { id: 'otlp-metrics-service' });
  const seriesChooser = h('select', { id: 'otlp-metrics-series' });
  const note = h('p', { class: 'hint', id: 'otlp-metrics-note' });
  const plot = h('div', { class: 'charts' });
  const rows = h('div', {});
  let service = allServices;
  /** The chosen series' id (a string, as the chooser's value). */
  let chosen;
  let asked = 0;
  const element = h(
    'section',
    { class: 'metrics-history', 'aria-labelledby': 'otlp-metrics-title' },
    h('h2', { id: 'otlp-metrics-title' }, 'Exported metrics (OTLP)'),
    h(
      'p',
      { class: 'hint' },
      'What apps export to the dashboard over OTLP (POST /v1/metrics, or gRPC), with the ingest token. ' +
        'A delta sum or histogram is shown as its total since the dashboard first received it; a histogram’s ' +
        'p95 is over the interval of its last export, the upper bound of its bucket. Exponential histograms and ' +
        'summaries: count and sum only.',
    ),
    h(
      'form',
      { class: 'filters', onsubmit: (event) => event.preventDefault() },
      field('Service', serviceChooser),
      field('Exported metric', seriesChooser),
    ),
    note,
    plot,
    rows,
  );

  const drawChart = async () => {
    const request = ++asked;
    if (chosen === undefined) return plot.replaceChildren();
    // Gone since the list was read (a 404: not sent to for 15 min): no chart, until the next poll offers another.
    const answer = await api(`/api/otlp-metrics/series?${new URLSearchParams({ id: chosen })}`).catch(
      () => undefined,
    );
    if (request !== asked) return;
    if (!answer) return plot.replaceChildren();
    const { title, value } = plotted(answer.kind);
    const unit = answer.unit;
    plot.replaceChildren(
      lineChart({
        title: `${answer.name}: ${title}`,
        subject: nameOf(answer),
        unit,
        floor: 1,
        format: (v) => `${number(v)}${unit ? ` ${unit}` : ''}`,
        points: answer.points.map((point, i) => ({
          atMs: point.timeMs,
          startMs: answer.points[i - 1]?.timeMs ?? point.timeMs,
          value: value(point),
        })),
      }),
    );
  };

  const refresh = async () => {
    const answer = await api('/api/otlp-metrics');
    const services = [...new Set(answer.series.map((s) => s.service))];
    if (service !== allServices && !services.includes(service)) services.push(service);
    offer(serviceChooser, [[allServices, 'All services'], ...services.map((name) => [name, name])], service);
    const shown = answer.series.filter((s) => service === allServices || s.service === service);
    if (!shown.some((s) => String(s.id) === chosen)) chosen = shown[0] && String(shown[0].id);
    offer(
      seriesChooser,
      shown.map((s) => [String(s.id), nameOf(s)]),
      chosen ?? '',
    );
    const overCap =
      answer.seriesOverCap > 0
        ? ` ${answer.seriesOverCap} series are not kept: over the ${answer.maxSeries} kept at most.`
        : '';
    note.textContent =
      `Kept: the last ${answer.maxAgeMs / 60_000} min, at most ${answer.maxPoints} points a series.` +
      overCap;
    await drawChart();
    showTable(
      rows,
      'Metrics exported over OTLP',
      headers,
      shown.map(row),
      'No metrics exported to the dashboard yet.',
    );
  };
  serviceChooser.addEventListener('change', () => {
    service = serviceChooser.value;
    chosen = undefined;
    refresh().catch((error) => console.warn(error));
  });
  seriesChooser.addEventListener('change', () => {
    chosen = seriesChooser.value;
    drawChart().catch((error) => console.warn(error));
  });
  return { element, refresh };
}
