// Tiny DOM helpers: elements are built, never parsed from strings, so nothing a
// service logs or answers can inject markup into the dashboard.

/** h('a', {href: '#x', class: 'c'}, 'text', child): an element; `on<event>` attributes become listeners, `style` is an object. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false || value === null) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    // Through the CSSOM: the CSP (default-src 'self') refuses style attributes.
    else if (name === 'style') Object.assign(element.style, value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Number.POSITIVE_INFINITY)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

/** A label and its control (which has an id), kept together when a form wraps. */
export function field(label, control) {
  return h('span', { class: 'field' }, h('label', { for: control.id }, label), control);
}

const tokenKey = 'berth-dashboard-token';

/**
 * Keeps the token of the printed URL (`/#t=<token>`) for this tab and takes it out of
 * the address bar and the history; the page then starts on `#resources`.
 */
export function keepToken() {
  const given = /^#t=([\w-]+)$/.exec(location.hash)?.[1];
  if (!given) return;
  sessionStorage.setItem(tokenKey, given);
  history.replaceState(null, '', '/#resources');
}

function authorized(headers) {
  return { authorization: `Bearer ${sessionStorage.getItem(tokenKey) ?? ''}`, ...headers };
}

/** GET or POST JSON to the dashboard's API, with its token; rejects with the API's error message. */
export async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? 'GET' : 'POST',
    headers: authorized(body === undefined ? {} : { 'content-type': 'application/json' }),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error ?? `HTTP ${response.status}`);
  return answer;
}

/**
 * POST JSON to an API that answers NDJSON (POST /api/stream): yields each line,
 * parsed, as it arrives. Rejects with the API's error message, or with an
 * AbortError once `signal` aborts.
 */
export async function* apiLines(path, body, signal) {
  const response = await fetch(path, {
    method: 'POST',
    headers: authorized({ 'content-type': 'application/json' }),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    throw new Error(answer.error ?? `HTTP ${response.status}`);
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  while (true) {
    const { done, value } = await reader.read();
    if (done) return;
    pending += value;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      yield JSON.parse(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  }
}

/**
 * A table with a caption in a horizontally scrolling region. Below 640 px each row
 * becomes a card, each cell labelled with its column's title (style.css), so a
 * phone shows everything without scrolling sideways.
 */
export function table(caption, headers, rows) {
  for (const row of rows) {
    for (const [column, cell] of [...row.children].entries())
      cell.setAttribute('data-label', headers[column] ?? '');
  }
  return h(
    'div',
    { class: 'scroll', role: 'region', 'aria-label': caption, tabindex: '0' },
    h(
      'table',
      { class: 'cards' },
      h('caption', {}, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((title) => h('th', { scope: 'col' }, title)),
        ),
      ),
      h('tbody', {}, rows),
    ),
  );
}

/**
 * Shows `rows` as a table in `container`, or `emptyText` without any. Polled: the new
 * rows go into the table already shown, so its scrolling region keeps its focus and scroll.
 */
export function showTable(container, caption, headers, rows, emptyText) {
  if (rows.length === 0) {
    container.replaceChildren(h('p', { class: 'empty' }, emptyText));
    return;
  }
  const fresh = table(caption, headers, rows);
  const shown = container.querySelector('table');
  if (shown) shown.tBodies[0].replaceWith(fresh.querySelector('tbody'));
  else container.replaceChildren(fresh);
}

export function ms(value) {
  if (value === undefined || value === null) return '–';
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 2 : 1)} ms`;
}

export function uptime(since) {
  if (!since) return '–';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

export function clock(timeMs) {
  return (
    new Date(timeMs).toLocaleTimeString([], { hour12: false }) +
    `.${String((timeMs % 1000) | 0).padStart(3, '0')}`
  );
}

/** Dark enough for white text (at least 4.5:1) and told apart from each other. */
const palette = ['#1f5f99', '#8a3b12', '#2f6b2f', '#6b3d8f', '#8c2f4f', '#0f6466', '#6b5a12', '#3d4f8a'];

/** A stable colour per service name (the waterfall's tags and bars). */
export function serviceColour(name) {
  let hash = 0;
  for (const char of name) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return palette[hash % palette.length];
}

/** Says `message` in the status line (a live region) for a few seconds. */
let saidAt;
export function say(message) {
  const status = document.getElementById('status');
  status.textContent = message;
  // A note, not a banner: it must not stay over the page.
  clearTimeout(saidAt);
  saidAt = setTimeout(() => {
    status.textContent = '';
  }, 6000);
}

/** Runs `refresh` now and every `intervalMs` until the returned stop is called. */
export function poll(refresh, intervalMs) {
  let timer;
  let stopped = false;
  const run = async () => {
    await refresh().catch((error) => console.warn(error));
    if (!stopped) timer = setTimeout(run, intervalMs);
  };
  void run();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
