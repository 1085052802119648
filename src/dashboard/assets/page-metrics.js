// Metrics: requests/s, error rate and latency per service and method, from each
// instance's /metrics (the dashboard scrapes when the page asks: rates between scrapes).
import { api, h, ms, poll, table } from './dom.js';

export function metricsPage(main) {
  const body = h('div', {});
  main.append(
    h('h1', {}, 'Metrics'),
    h(
      'p',
      { class: 'hint' },
      'From each instance’s /metrics, every 5 s. Rates compare with the previous scrape.',
    ),
    body,
  );
  const refresh = async () => {
    const { methods } = await api('/api/metrics');
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
        h(
          'td',
          { class: 'num' },
          m.requestsPerSecond === undefined || m.requestsPerSecond === null
            ? '–'
            : m.requestsPerSecond.toFixed(2),
        ),
        h('td', { class: 'num' }, m.requests),
        h('td', { class: m.errors > 0 ? 'num bad' : 'num' }, `${(m.errorRate * 100).toFixed(1)} %`),
        h('td', { class: 'num' }, ms(m.meanMs)),
        h('td', { class: 'num' }, m.p95Ms === undefined || m.p95Ms === null ? '–' : `≤ ${ms(m.p95Ms)}`),
      ),
    );
    body.replaceChildren(
      table(
        'Calls per service and method',
        ['Service', 'Method', 'Req/s', 'Requests', 'Errors', 'Mean', 'p95'],
        rows,
      ),
    );
  };
  return poll(refresh, 5000);
}
