// API explorer: every service's methods (from its /descriptors), a request prefilled
// from the message's fields, an optional token, Call → the answer and its trace.
import { api, h, ms, say } from './dom.js';

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
          try {
            const result = await api('/api/call', {
              service: chosen.service,
              method: chosen.method,
              request: body,
              token: token.value.trim() || undefined,
            });
            answer.replaceChildren(
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
            );
            say(`${chosen.label} answered HTTP ${result.status}`);
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
    request.value = JSON.stringify(methods.get(method.value)?.example ?? {}, null, 2);
  });
  void api('/api/services').then(({ services }) => {
    for (const { service, protoServices } of services) {
      const group = h('optgroup', { label: service });
      for (const proto of protoServices) {
        const short = proto.typeName.split('.').pop();
        for (const m of proto.methods) {
          if (m.kind !== 'unary') continue;
          const key = `${service} ${short}.${m.name}`;
          methods.set(key, {
            service,
            method: `${short}.${m.name}`,
            example: m.example,
            label: `${short}.${m.name}`,
          });
          group.append(h('option', { value: key }, `${short}.${m.name}`));
        }
      }
      if (group.children.length > 0) method.append(group);
    }
    if (methods.size === 0) method.append(h('option', { value: '' }, 'no service describes its methods yet'));
    method.dispatchEvent(new Event('change'));
  });
}
