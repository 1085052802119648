// API explorer: every service's methods (from its /descriptors), a request prefilled
// from the message's fields, an optional token, Call → the answer and its trace.
// Unary methods go to /api/call; server and client streams to /api/stream, which
// answers every message at once (the gateway relays a stream whole) with how it ended.
// Bidi streams are not listed: the gateway cannot relay them (api-explorer.ts).
import { api, h, ms, say } from './dom.js';

/** What each callable kind is called in the list, and how its request is written. */
const kinds = {
  unary: { note: '', requestOf: (example) => example },
  server_streaming: { note: ' (server stream)', requestOf: (example) => example },
  client_streaming: { note: ' (client stream: a list of requests)', requestOf: (example) => [example] },
};

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

function streamAnswer(result) {
  const cut = {
    messages: ` (stopped: at most ${result.limits.maxMessages} messages are kept)`,
    bytes: ` (stopped: at most ${result.limits.maxBytes} bytes are kept)`,
  };
  const ending = result.error ? `ended with ${result.error.code}: ${result.error.message}` : 'ended ok';
  return [
    h(
      'p',
      { class: result.error ? 'bad' : 'ok' },
      `${result.count} message${result.count === 1 ? '' : 's'}${cut[result.truncated] ?? ''}, ${ending}, in ${ms(result.durationMs)} · `,
      h('a', { href: `#trace/${result.traceId}` }, 'view its trace'),
    ),
    h(
      'ol',
      { class: 'messages', 'aria-label': 'Messages' },
      ...result.messages.map((message) =>
        h('li', {}, h('pre', { class: 'json' }, JSON.stringify(message, null, 2))),
      ),
    ),
    ...(Object.keys(result.trailers).length > 0
      ? [h('pre', { class: 'json', 'aria-label': 'Trailers' }, JSON.stringify(result.trailers, null, 2))]
      : []),
  ];
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
              const messages = chosen.kind === 'client_streaming' ? { requests: body } : { request: body };
              const result = await api('/api/stream', { ...target, ...messages });
              answer.replaceChildren(...streamAnswer(result));
              say(`${chosen.label} answered ${result.count} messages`);
            }
          } catch (error) {
            answer.replaceChildren(h('p', { class: 'bad' }, error.message));
          } finally {
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
      h('div', {}, call),
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
