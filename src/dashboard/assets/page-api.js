// API explorer: every service's methods (from its /descriptors), a request prefilled
// from the message's fields, an optional token, Call → the answer and its trace.
// Unary methods go to /api/call; server, client and bidi streams to /api/stream,
// whose NDJSON lines (each message as it arrives, then the end) are shown as they
// come; Stop aborts the fetch, and the dashboard cancels the call.
import { api, apiLines, h, ms, say } from './dom.js';

/** What each callable kind is called in the list, and how its request is written. */
const kinds = {
  unary: { note: '', requestOf: (example) => example },
  server_streaming: { note: ' (server stream)', requestOf: (example) => example },
  client_streaming: { note: ' (client stream: a list of requests)', requestOf: (example) => [example] },
  bidi_streaming: { note: ' (bidi stream: a list of requests)', requestOf: (example) => [example] },
};

const plural = (count) => `${count} message${count === 1 ? '' : 's'}`;

function unaryAnswer(result) {
  return [
    h(
      'p',
      { class: result.status === 200 ? 'ok' : 'bad' },
      `HTTP ${result.status} in ${ms(result.durationMs)} · `,
      h('a', { href: `#trace/${result.traceId}` }, 'view its trace'),
    ),
    h(
      'pre',
      { class: 'json' },
      typeof result.body === 'string' ? result.body : JSON.stringify(result.body, null, 2),
    ),
  ];
}

/** How a stream ended (its last line), with a link to its trace. */
function streamEnd(end) {
  const cut = {
    messages: ` (stopped: at most ${end.limits.maxMessages} messages are shown)`,
    bytes: ` (stopped: at most ${end.limits.maxBytes} bytes are shown)`,
  };
  const ending = end.error ? `ended with ${end.error.code}: ${end.error.message}` : 'ended ok';
  return [
    h(
      'p',
      { class: end.error ? 'bad' : 'ok' },
      `${plural(end.count)}${cut[end.truncated] ?? ''}, ${ending}, in ${ms(end.durationMs)} · `,
      h('a', { href: `#trace/${end.traceId}` }, 'view its trace'),
    ),
    ...(Object.keys(end.trailers).length > 0
      ? [h('pre', { class: 'json', 'aria-label': 'Trailers' }, JSON.stringify(end.trailers, null, 2))]
      : []),
  ];
}

/**
 * Calls a stream into `answer`: each message appended as it arrives under a line
 * saying the stream is open, which its end replaces. Resolves to what to announce.
 */
async function streamInto(answer, body, signal) {
  const status = h('p', {}, 'Waiting for the first message…');
  const list = h('ol', { class: 'messages', 'aria-label': 'Messages' });
  answer.replaceChildren(status, list);
  let count = 0;
  try {
    for await (const line of apiLines('/api/stream', body, signal)) {
      if (line.end) {
        status.replaceWith(...streamEnd(line.end));
        return `answered ${plural(line.end.count)}`;
      }
      list.append(h('li', {}, h('pre', { class: 'json' }, JSON.stringify(line.message, null, 2))));
      count++;
      status.textContent = `${plural(count)} so far, the stream is open…`;
    }
    throw new Error(`the answer ended without saying how the stream ended (after ${plural(count)})`);
  } catch (error) {
    if (error.name !== 'AbortError') throw error;
    status.replaceWith(h('p', { class: 'bad' }, `Stopped after ${plural(count)}: the call was cancelled`));
    return 'was stopped';
  }
}

export function apiPage(main) {
  const method = h('select', { id: 'api-method' });
  const request = h('textarea', { id: 'api-request', rows: '10', spellcheck: 'false' });
  const token = h('input', {
    id: 'api-token',
    type: 'text',
    autocomplete: 'off',
    placeholder: 'sent as Authorization: Bearer …',
  });
  const answer = h('section', { class: 'answer', 'aria-label': 'Answer', 'aria-live': 'polite' });
  const methods = new Map();
  const call = h('button', { type: 'submit' }, 'Call');
  // Aborts the stream being called, when one is.
  let running;
  const stop = h('button', { type: 'button', disabled: true, onclick: () => running?.abort() }, 'Stop');
  main.append(
    h('h1', {}, 'API explorer'),
    h(
      'form',
      {
        class: 'explorer',
        onsubmit: async (event) => {
          event.preventDefault();
          const chosen = methods.get(method.value);
          if (!chosen) return;
          let body;
          try {
            body = JSON.parse(request.value || '{}');
          } catch (error) {
            answer.replaceChildren(h('p', { class: 'bad' }, `The request is not JSON: ${error.message}`));
            return;
          }
          call.disabled = true;
          say(`calling ${chosen.label}…`);
          const target = {
            service: chosen.service,
            method: chosen.method,
            token: token.value.trim() || undefined,
          };
          try {
            if (chosen.kind === 'unary') {
              const result = await api('/api/call', { ...target, request: body });
              answer.replaceChildren(...unaryAnswer(result));
              say(`${chosen.label} answered HTTP ${result.status}`);
            } else {
              const messages = chosen.kind === 'server_streaming' ? { request: body } : { requests: body };
              running = new AbortController();
              stop.disabled = false;
              say(`${chosen.label} ${await streamInto(answer, { ...target, ...messages }, running.signal)}`);
            }
          } catch (error) {
            answer.replaceChildren(h('p', { class: 'bad' }, error.message));
          } finally {
            running = undefined;
            stop.disabled = true;
            call.disabled = false;
          }
        },
      },
      h('label', { for: 'api-method' }, 'Method'),
      method,
      h('label', { for: 'api-request' }, 'Request (JSON)'),
      request,
      h('label', { for: 'api-token' }, 'Token (optional)'),
      token,
      h('div', { class: 'actions' }, call, stop),
    ),
    answer,
  );
  method.addEventListener('change', () => {
    const chosen = methods.get(method.value);
    request.value = JSON.stringify(chosen ? kinds[chosen.kind].requestOf(chosen.example) : {}, null, 2);
  });
  void api('/api/services').then(({ services }) => {
    for (const { service, protoServices } of services) {
      const group = h('optgroup', { label: service });
      for (const proto of protoServices) {
        const short = proto.typeName.split('.').pop();
        for (const m of proto.methods) {
          const kind = kinds[m.kind];
          if (!kind) continue;
          const key = `${service} ${short}.${m.name}`;
          methods.set(key, {
            service,
            method: `${short}.${m.name}`,
            kind: m.kind,
            example: m.example,
            label: `${short}.${m.name}`,
          });
          group.append(h('option', { value: key }, `${short}.${m.name}${kind.note}`));
        }
      }
      if (group.children.length > 0) method.append(group);
    }
    if (methods.size === 0) method.append(h('option', { value: '' }, 'no service describes its methods yet'));
    method.dispatchEvent(new Event('change'));
  });
}
