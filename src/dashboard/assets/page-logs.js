// Logs: every instance's lines, live (polled with `after=<last seq>`), filtered by
// service, level, text and trace id (#logs/<trace id>: a trace page's "logs of this
// trace"); a line with a trace id links to its trace.
import { api, clock, field, h, poll } from './dom.js';

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const maxShown = 1000;

export function logsPage(main, traceId = '') {
  const service = h('select', { id: 'log-service' }, h('option', { value: '' }, 'all'));
  const level = h(
    'select',
    { id: 'log-level' },
    h('option', { value: '' }, 'any'),
    levels.map((l) => h('option', { value: l }, `${l} and above`)),
  );
  const text = h('input', { id: 'log-text', type: 'search', placeholder: 'text in the line' });
  const trace = h('input', {
    id: 'log-trace',
    type: 'search',
    placeholder: '32 hex digits',
    pattern: '[0-9a-fA-F]{32}',
    value: traceId,
  });
  const list = h('ol', { class: 'log-lines', 'aria-label': 'Log lines', 'aria-live': 'off' });
  const known = new Set();
  let after = 0;
  // Bumped by each filter change: a poll still in flight with the old filter must not append its lines.
  let generation = 0;
  main.append(
    h('h1', {}, 'Logs'),
    h(
      'form',
      { class: 'filters', role: 'search', onsubmit: (event) => event.preventDefault() },
      field('Service', service),
      field('Level', level),
      field('Text', text),
      field('Trace', trace),
    ),
    list,
  );
  const restart = () => {
    generation += 1;
    after = 0;
    list.replaceChildren();
  };
  for (const control of [service, level]) control.addEventListener('change', restart);
  for (const control of [text, trace]) control.addEventListener('input', restart);

  const refresh = async () => {
    const query = new URLSearchParams({ after: String(after) });
    if (service.value) query.set('service', service.value);
    if (level.value) query.set('level', level.value);
    if (text.value) query.set('text', text.value);
    if (trace.value) query.set('trace', trace.value.trim().toLowerCase());
    const asked = generation;
    const { last, lines } = await api(`/api/logs?${query}`);
    if (asked !== generation) return;
    after = last;
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
    for (const line of lines) {
      if (!known.has(line.service)) {
        known.add(line.service);
        service.append(h('option', { value: line.service }, line.service));
      }
      list.append(
        h(
          'li',
          { class: `log level-${line.level || 'none'}` },
          h('time', {}, clock(line.timeMs)),
          h('span', { class: 'instance' }, line.instance),
          h('span', { class: 'level' }, line.level || '–'),
          h('span', { class: 'message' }, line.message),
          line.traceId ? h('a', { href: `#trace/${line.traceId}`, class: 'trace-link' }, 'trace') : '',
        ),
      );
    }
    while (list.children.length > maxShown) list.firstChild.remove();
    if (lines.length > 0 && atBottom) window.scrollTo(0, document.body.scrollHeight);
    if (list.children.length === 0) list.append(h('li', { class: 'empty' }, 'No lines yet.'));
    else list.querySelector('.empty')?.remove();
  };
  return poll(refresh, 1000);
}
