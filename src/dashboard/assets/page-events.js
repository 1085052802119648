// Events: each service's outbox by topic (pending, delivered, redelivered, parked)
// and the parked events with their error and a Retry button.
import { api, clock, h, poll, say, table } from './dom.js';

export function eventsPage(main) {
  const body = h('div', {});
  main.append(h('h1', {}, 'Events'), body);
  const refresh = async () => {
    const { topics, consumers, parked, errors } = await api('/api/events');
    const consumerRows = consumers.map((c) =>
      h(
        'tr',
        {},
        h('td', {}, c.schema),
        h('th', { scope: 'row' }, c.consumer),
        h('td', { class: 'num' }, c.processed),
        h('td', {}, clock(Date.parse(c.lastProcessedAt))),
      ),
    );
    const focused = document.activeElement?.id;
    const topicRows = topics.map((t) =>
      h(
        'tr',
        {},
        h('td', {}, t.schema),
        h('th', { scope: 'row' }, t.topic),
        h('td', { class: 'num' }, t.pending),
        h('td', { class: 'num' }, t.delivered),
        h('td', { class: 'num' }, t.redelivered),
        h('td', { class: t.parked > 0 ? 'num bad' : 'num' }, t.parked),
      ),
    );
    const parkedRows = parked.map((event) =>
      h(
        'tr',
        { 'data-event': event.id },
        h('td', {}, event.schema),
        h('td', {}, event.topic),
        h('th', { scope: 'row' }, h('code', {}, event.id)),
        h('td', { class: 'num' }, event.attempts),
        h('td', { class: 'error-text' }, event.lastError ?? '–'),
        h(
          'td',
          {},
          h(
            'button',
            {
              type: 'button',
              id: `retry-${event.id}`,
              'aria-label': `Retry event ${event.id}`,
              onclick: async () => {
                try {
                  await api('/api/events/retry', {
                    database: event.database,
                    schema: event.schema,
                    id: event.id,
                  });
                  say(`event ${event.id} is due again; the outbox relay publishes it on its next poll`);
                } catch (error) {
                  say(`retry failed: ${error.message}`);
                }
                await refresh();
              },
            },
            'Retry',
          ),
        ),
      ),
    );
    body.replaceChildren(
      ...errors.map((error) => h('p', { class: 'bad' }, error)),
      topics.length
        ? table(
            'Outbox events by service schema and topic',
            ['Schema', 'Topic', 'Pending', 'Delivered', 'Redelivered', 'Parked'],
            topicRows,
          )
        : h('p', { class: 'empty' }, 'No outbox has events yet.'),
      h('h2', {}, 'Consumers'),
      consumers.length
        ? table(
            'Events each queue group processed (once each: berth_processed_events)',
            ['Schema', 'Queue group', 'Processed', 'Last'],
            consumerRows,
          )
        : h('p', { class: 'empty' }, 'No consumer has processed an event yet.'),
      h('h2', {}, 'Parked events'),
      parked.length
        ? table(
            'Parked events: no retry could publish them',
            ['Schema', 'Topic', 'Event', 'Attempts', 'Last error', 'Action'],
            parkedRows,
          )
        : h('p', { class: 'empty' }, 'None: every event was published or is still being retried.'),
    );
    if (focused) document.getElementById(focused)?.focus();
  };
  return poll(refresh, 3000);
}
