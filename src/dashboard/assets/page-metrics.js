// Metrics: requests/s, error rate and latency per service and method, from each
// instance's and the gateway's /metrics (the dashboard scrapes when the page asks):
// all but the total over the window between the last two scrapes.
import { api, h, ms, poll, table } from './dom.js';

const shown = (value, format) => (value === undefined || value === null ? '–' : format(value));

export function metricsPage(main) {
  const body = h('div', {});
  const windowNote = h('p', { class: 'hint', id: 'metrics-window' });
  main.append(
    h('h1', {}, 'Metrics'),
    h(
      'p',
      { class: 'hint' },
      'From each instance’s and the gateway’s /metrics, every 5 s. Requests is the total since each ' +
        'started; the rest is over the window between the last two scrapes. At “gateway”: the calls as ' +
        'the gateway forwarded them, network included.',
    ),
    windowNote,
    body,
  );
  const refresh = async () => {
    const { methods } = await api('/api/metrics');
    const seconds = Math.max(0, ...methods.map((m) => m.windowSeconds ?? 0));
    windowNote.textContent =
      seconds > 0 ? `Window: the last ${seconds.toFixed(1)} s.` : 'Window: from the next scrape on.';
    if (methods.length === 0) {
      body.replaceChildren(h('p', { class: 'empty' }, 'No calls measured yet.'));
      return;
    }
    const rows = methods.map((m) =>
      h(
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
      ),
    );
    body.replaceChildren(
      table(
        'Calls per service and method',
        ['Service', 'Method', 'At', 'Req/s', 'Requests', 'Errors', 'Mean', 'p95'],
        rows,
      ),
    );
  };
  return poll(refresh, 5000);
}
