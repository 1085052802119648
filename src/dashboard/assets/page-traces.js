// Traces: the list (root span, services, duration, spans, errors) and one trace as
// a waterfall across services and events; a span's attributes on click.

import { api, clock, field, h, ms, poll, serviceColour, table } from './dom.js';
import { inTreeOrder } from './span-tree.js';

/**
 * The attribute filter's text as the API's `attr` filters: `key=value` or `key`,
 * separated by spaces; a value with spaces in "…" (`name="user created"`), the
 * quotes dropped. No escapes: a value holding `"` cannot be asked for here.
 */
function filtersOfText(text) {
  return (text.match(/(?:[^\s"]+|"[^"]*")+/g) ?? []).map((filter) => filter.replaceAll('"', ''));
}

/** The filter text that finds `key=value`, for the span detail's links; undefined when none can say it. */
function filterFor(key, value) {
  if (Array.isArray(value) || /[\s="]/.test(key) || String(value).includes('"')) return undefined;
  const text = String(value);
  return `${key}=${/\s/.test(text) || text === '' ? `"${text}"` : text}`;
}

/** `#traces/<attribute filter>`: the filter is kept in the address, for a reload and the detail's links. */
const tracesHash = (filter) => (filter ? `#traces/${encodeURIComponent(filter)}` : '#traces');

export function tracesPage(main, filter = '') {
  const service = h('input', { id: 'trace-service', type: 'search', placeholder: 'e.g. vessel' });
  const errors = h('input', { id: 'trace-errors', type: 'checkbox' });
  const attributes = h('input', {
    id: 'trace-attributes',
    type: 'search',
    size: 40,
    placeholder: 'e.g. rpc.method=FindAvailable http.response.status_code=503',
    'aria-describedby': 'trace-attributes-hint',
  });
  attributes.value = filter;
  const body = h('div', {});
  main.append(
    h('h1', {}, 'Traces'),
    h(
      'form',
      { class: 'filters', role: 'search', onsubmit: (event) => event.preventDefault() },
      field('Service', service),
      h('span', { class: 'checkbox' }, errors, h('label', { for: 'trace-errors' }, 'Only with errors')),
      field('Attribute filter', attributes),
      h(
        'span',
        { id: 'trace-attributes-hint', class: 'hint' },
        'key=value or key, separated by spaces; "…" around a value with spaces; all must match',
      ),
    ),
    body,
  );
  // Typing asks again at each key: only the answer to the latest question is shown.
  let asked = 0;
  const refresh = async () => {
    const question = ++asked;
    const query = new URLSearchParams({ limit: '100' });
    if (service.value.trim()) query.set('service', service.value.trim());
    if (errors.checked) query.set('errors', '1');
    for (const attribute of filtersOfText(attributes.value)) query.append('attr', attribute);
    const answer = await api(`/api/traces?${query}`).catch((error) => ({ error }));
    if (question !== asked) return;
    if (answer.error) {
      body.replaceChildren(h('p', { class: 'bad' }, answer.error.message));
      return;
    }
    const { traces, tracesElsewhere } = answer;
    if (traces.length === 0) {
      body.replaceChildren(
        h(
          'p',
          { class: 'empty' },
          tracesElsewhere
            ? `The services send their traces to ${tracesElsewhere} (OTEL_EXPORTER_OTLP_ENDPOINT), not here.`
            : query.size > 1
              ? 'No trace matches these filters.'
              : 'No traces yet: call a service.',
        ),
      );
      return;
    }
    const rows = traces.map((trace) =>
      h(
        'tr',
        {},
        h('td', {}, clock(trace.startMs)),
        h('th', { scope: 'row' }, h('a', { href: `#trace/${trace.traceId}` }, trace.root)),
        h('td', {}, trace.services.join(', ')),
        h('td', { class: 'num' }, ms(trace.durationMs)),
        h('td', { class: 'num' }, trace.spanCount),
        h('td', { class: trace.errorCount > 0 ? 'num bad' : 'num' }, trace.errorCount),
      ),
    );
    body.replaceChildren(
      table(
        'Recent traces, newest first',
        ['Started', 'Root span', 'Services', 'Duration', 'Spans', 'Errors'],
        rows,
      ),
    );
  };
  for (const control of [service, errors]) control.addEventListener('input', () => void refresh());
  attributes.addEventListener('input', () => {
    // Not a hashchange: the page stays, with its focus.
    history.replaceState(null, '', tracesHash(attributes.value.trim()));
    void refresh();
  });
  return poll(refresh, 3000);
}

function attributesOf(span) {
  const described = (key, value, label = key) => [
    label,
    Array.isArray(value) ? value.join(', ') : String(value),
    filterFor(key, value),
  ];
  const entries = [
    ['service', span.service],
    ['kind', span.kind],
    ['status', span.statusMessage ? `${span.status}: ${span.statusMessage}` : span.status],
    ['duration', ms(span.durationMs)],
    ['span id', span.spanId],
    ...(span.parentSpanId ? [['parent span id', span.parentSpanId]] : []),
    ...Object.entries(span.attributes).map(([key, value]) => described(key, value)),
    ...Object.entries(span.resource).map(([key, value]) => described(key, value, `${key} (resource)`)),
    ...span.links.map((link) => ['link', `${link.traceId} / ${link.spanId}`]),
    ...span.events.map((event) => [`event ${event.name}`, JSON.stringify(event.attributes)]),
  ];
  return h(
    'section',
    { class: 'span-detail', 'aria-label': `Attributes of ${span.name}` },
    h('h2', {}, span.name),
    h(
      'dl',
      {},
      entries.map(([key, value, filter]) => [
        h('dt', {}, key),
        h(
          'dd',
          {},
          value,
          filter
            ? [
                ' ',
                h(
                  'a',
                  {
                    href: tracesHash(filter),
                    class: 'filter-link',
                    'aria-label': `Filter traces by ${filter}`,
                  },
                  'filter',
                ),
              ]
            : '',
        ),
      ]),
    ),
  );
}

const spanStart = (spans) => Math.min(...spans.map((span) => span.startMs));
const spanEnd = (spans) => Math.max(...spans.map((span) => span.startMs + span.durationMs));

function waterfall(spans, detail) {
  const start = spanStart(spans);
  const end = spanEnd(spans);
  const total = Math.max(end - start, 0.001);
  return h(
    'ol',
    { class: 'waterfall', 'aria-label': 'Spans' },
    inTreeOrder(spans).map(({ span, depth }) => {
      const left = ((span.startMs - start) / total) * 100;
      const width = Math.max((span.durationMs / total) * 100, 0.4);
      return h(
        'li',
        { class: span.status === 'error' ? 'span error' : 'span', 'data-service': span.service },
        h(
          'button',
          {
            type: 'button',
            class: 'span-row',
            onclick: () => detail.replaceChildren(attributesOf(span)),
          },
          h(
            'span',
            { class: 'span-label', style: { paddingLeft: `${depth * 0.9}rem` } },
            h(
              'span',
              { class: 'service-tag', style: { background: serviceColour(span.service) } },
              span.service,
            ),
            ' ',
            span.name,
          ),
          h(
            'span',
            { class: 'span-track' },
            h('span', {
              class: 'span-bar',
              style: { left: `${left}%`, width: `${width}%`, background: serviceColour(span.service) },
            }),
          ),
          h(
            'span',
            { class: 'span-duration' },
            ms(span.durationMs),
            span.status === 'error' ? h('span', { class: 'failed' }, ' failed') : '',
          ),
        ),
      );
    }),
  );
}

export function tracePage(main, traceId) {
  const body = h('div', {}, h('p', { class: 'empty' }, 'Waiting for the spans of this trace…'));
  const detail = h('div', { class: 'detail' });
  main.append(
    h('h1', {}, 'Trace'),
    h(
      'p',
      { class: 'trace-id' },
      h('a', { href: '#traces' }, '← all traces'),
      ` ${traceId} `,
      h('a', { href: `#logs/${traceId}`, class: 'logs-link' }, 'logs of this trace'),
    ),
    body,
    detail,
  );
  let count = -1;
  const refresh = async () => {
    const { spans } = await api(`/api/traces/${traceId}`).catch(() => ({ spans: [] }));
    if (spans.length === 0 || spans.length === count) return;
    count = spans.length;
    const services = [...new Set(spans.map((span) => span.service))];
    const errors = spans.filter((span) => span.status === 'error').length;
    body.replaceChildren(
      h(
        'p',
        { class: 'summary' },
        `${spans.length} spans across ${services.join(', ')} in ${ms(spanEnd(spans) - spanStart(spans))}`,
        errors ? `; ${errors} failed` : '',
      ),
      waterfall(spans, detail),
    );
  };
  // Spans arrive in batches (each service exports on its own schedule): keep looking a while.
  return poll(refresh, 1500);
}
