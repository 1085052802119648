// Metrics: requests/s, error rate and latency per service and method, from each
// instance's and the gateway's /metrics (the dashboard scrapes them every 5 s from
// the start of berth run, whatever page is open; the page reads its latest scrape):
// all but the total over the window between the last two scrapes; and, for the
// series chosen, those windows over time as charts (the dashboard keeps them, so
// the charts show at once what was measured before the page was opened).
// Each poll redraws the charts and the table's rows only: the chooser and the
// table's region are never replaced, so focus and the choice stay where they are.
import { api, field, h, ms, poll, showTable } from './dom.js';
import { lineChart } from './line-chart.js';
import { otlpMetricsSection } from './page-otlp-metrics.js';

const shown = (value, format) => (value === undefined || value === null ? '–' : format(value));
const headers = ['Service', 'Method', 'At', 'Req/s', 'Requests', 'Errors', 'Mean', 'p95'];
/** A series' key: service and method names are the services' own, so no separator is safe. */
const keyOf = (m) => JSON.stringify([m.service, m.method, m.measuredAt]);
const nameOf = (m) => `${m.service} ${m.method} (at ${m.measuredAt})`;

const charts = [
  {
    title: 'Requests/s',
    unit: 'req/s',
    floor: 1,
    value: (point) => point.requestsPerSecond,
    format: (rate) => `${rate.toFixed(2)} req/s`,
  },
  {
    title: 'Error rate',
    unit: '%',
    floor: 1,
    value: (point) => (point.errorRate === undefined ? undefined : point.errorRate * 100),
    format: (percent) => `${percent.toFixed(1)} %`,
  },
  {
    title: 'p95 latency',
    unit: 'ms',
    floor: 1,
    value: (point) => point.p95Ms,
    format: (p95) => `≤ ${ms(p95)}`,
  },
];

function row(m) {
  return h(
    'tr',
    {},
    h('td', {}, m.service),
    h('th', { scope: 'row' }, m.method),
    h('td', {}, m.measuredAt),
    h(
      'td',
      { class: 'num' },
      shown(m.requestsPerSecond, (rate) => rate.toFixed(2)),
    ),
    h('td', { class: 'num' }, m.requests),
    h(
      'td',
      { class: m.errorRate > 0 ? 'num bad' : 'num' },
      shown(m.errorRate, (rate) => `${(rate * 100).toFixed(1)} %`),
    ),
    h('td', { class: 'num' }, ms(m.meanMs)),
    h(
      'td',
      { class: 'num' },
      shown(m.p95Ms, (p95) => `≤ ${ms(p95)}`),
    ),
  );
}

export function metricsPage(main) {
  const rows = h('div', {});
  const windowNote = h('p', { class: 'hint', id: 'metrics-window' });
  const chooser = h('select', { id: 'metrics-series' });
  const historyNote = h('p', { class: 'hint', id: 'metrics-history' });
  const plots = h('div', { class: 'charts' });
  /** The chosen series' key, and the names of the series offered. */
  let chosen;
  const names = new Map();
  // Bumped by each history request: an older answer arriving late must not replace a newer one.
  let asked = 0;
  const exported = otlpMetricsSection();
  main.append(
    h('h1', {}, 'Metrics'),
    h(
      'p',
      { class: 'hint' },
      'From each instance’s and the gateway’s /metrics, which the dashboard scrapes every 5 s from the start ' +
        'of berth run, whether this page is open or not. Requests is the total since each started; the rest ' +
        'is over the window between the last two scrapes. At “gateway”: the calls as the gateway forwarded ' +
        'them, network included.',
    ),
    windowNote,
    h(
      'section',
      { class: 'metrics-history', 'aria-labelledby': 'metrics-history-title' },
      h('h2', { id: 'metrics-history-title' }, 'Over time'),
      h('form', { class: 'filters', onsubmit: (event) => event.preventDefault() }, field('Series', chooser)),
      historyNote,
      plots,
    ),
    h('h2', {}, 'Last window'),
    rows,
    exported.element,
  );

  const offer = (methods) => {
    for (const m of methods) names.set(keyOf(m), nameOf(m));
    // Offered: the series measured now, and the chosen one even when a scrape missed it.
    const offered = [...new Set([...methods.map(keyOf), ...(chosen ? [chosen] : [])])];
    for (const key of names.keys()) if (!offered.includes(key)) names.delete(key);
    chosen ??= offered[0];
    const current = [...chooser.options].map((option) => option.value);
    // Rebuilt only when the series change: a focused or open chooser is left alone otherwise.
    if (current.join('\n') !== offered.join('\n')) {
      chooser.replaceChildren(...offered.map((key) => h('option', { value: key }, names.get(key))));
    }
    if (chosen !== undefined) chooser.value = chosen;
  };

  const drawHistory = async () => {
    if (chosen === undefined) {
      historyNote.textContent = 'Charts from the first call measured on.';
      plots.replaceChildren();
      return;
    }
    const [service, method, at] = JSON.parse(chosen);
    const request = ++asked;
    const answer = await api(`/api/metrics/history?${new URLSearchParams({ service, method, at })}`);
    if (request !== asked) return;
    const points = answer.series[0]?.points ?? [];
    const kept = `Kept: the last ${answer.maxAgeMs / 60_000} min, at most ${answer.maxPoints} windows a series.`;
    const overCap =
      answer.seriesOverCap > 0
        ? ` ${answer.seriesOverCap} series are not kept: over the ${answer.maxSeries} charted at most.`
        : '';
    historyNote.textContent =
      (points.length === 0 ? 'The first window ends at the next scrape. ' : '') + kept + overCap;
    const subject = names.get(chosen) ?? `${service} ${method} (at ${at})`;
    plots.replaceChildren(
      ...charts.map((chart) =>
        lineChart({
          ...chart,
          subject,
          points: points.map((point) => ({
            atMs: point.atMs,
            startMs: point.atMs - point.windowSeconds * 1000,
            value: chart.value(point),
          })),
        }),
      ),
    );
  };
  chooser.addEventListener('change', () => {
    chosen = chooser.value;
    drawHistory().catch((error) => console.warn(error));
  });

  const refresh = async () => {
    // Its own requests: a failed scrape or a slow chart above does not hold it up.
    exported.refresh().catch((error) => console.warn(error));
    const { methods, scrapeError } = await api('/api/metrics');
    const seconds = Math.max(0, ...methods.map((m) => m.windowSeconds ?? 0));
    windowNote.textContent =
      (seconds > 0 ? `Window: the last ${seconds.toFixed(1)} s.` : 'Window: from the next scrape on.') +
      (scrapeError ? ` The last scrape failed (${scrapeError}): these are the one before.` : '');
    offer(methods);
    await drawHistory();
    showTable(rows, 'Calls per service and method', headers, methods.map(row), 'No calls measured yet.');
  };
  return poll(refresh, 5000);
}
