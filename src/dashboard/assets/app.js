// The dashboard's app: one page per hash route (#resources, #logs, #traces,
// #trace/<id>, #metrics, #api, #events). Each page renders into <main> and may
// return a function that stops its polling when another page is shown.
import { api, h, keepToken, say } from './dom.js';
import { apiPage } from './page-api.js';
import { eventsPage } from './page-events.js';
import { logsPage } from './page-logs.js';
import { metricsPage } from './page-metrics.js';
import { resourcesPage } from './page-resources.js';
import { tracePage, tracesPage } from './page-traces.js';

const pages = {
  resources: resourcesPage,
  logs: logsPage,
  traces: tracesPage,
  trace: tracePage,
  metrics: metricsPage,
  api: apiPage,
  events: eventsPage,
};

let stopPage;

function show() {
  const [name, ...rest] = (location.hash.slice(1) || 'resources').split('/');
  // Own keys only: `#constructor` or `#__proto__` must not name Object's members.
  const page = Object.hasOwn(pages, name) ? pages[name] : resourcesPage;
  stopPage?.();
  const main = document.getElementById('main');
  main.replaceChildren();
  for (const link of document.querySelectorAll('nav a')) {
    const current = link.getAttribute('href') === `#${name === 'trace' ? 'traces' : name}`;
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  stopPage = page(main, decodeURIComponent(rest.join('/')));
  document.title = `${main.querySelector('h1')?.textContent ?? 'berth'} · berth dashboard`;
}

keepToken();
window.addEventListener('hashchange', () => {
  // The printed URL pasted into a tab that already shows the page.
  keepToken();
  show();
  document.getElementById('main').focus();
});
show();
api('/api/overview').then(
  (overview) => {
    document
      .getElementById('system')
      .replaceChildren(h('strong', {}, overview.system), ` (${overview.environment})`);
  },
  // Opened without the printed URL (no token in this tab): the 401 says where to find it.
  (error) => say(error.message),
);
