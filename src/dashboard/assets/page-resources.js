// Resources: every process of the run — state, pid, address, uptime, restarts,
// readiness checks — with stop / start / restart for services, the gateway and postgres
// (the runner does them), and the broker: the user's NATS server (checked, not stopped)
// or the direct one (no process), whose row says why it has no buttons.
import { api, h, poll, say, table, uptime } from './dom.js';

const stateLabels = {
  ready: 'Up',
  stopped: 'Down',
  starting: 'Starting',
  restarting: 'Restarting',
  stopping: 'Stopping',
  // The broker's row (broker-resource.ts): an external NATS server, or no process at all.
  unreachable: 'Unreachable',
  direct: 'No process',
};

function readinessCell(process) {
  const readiness = process.readiness;
  if (!readiness)
    return process.kind === 'postgres' && process.status === 'ready' ? 'answers the Postgres protocol' : '–';
  if (readiness.error) return `not answering: ${readiness.error}`;
  // The gateway's /readyz: how many instances of each service it routes to.
  if (readiness.services) {
    return h(
      'ul',
      { class: 'checks' },
      readiness.services.map((s) =>
        h(
          'li',
          { class: s.instances > 0 ? 'ok' : 'bad' },
          h('span', { class: 'check-name' }, s.name),
          ` ${s.instances} routed`,
        ),
      ),
    );
  }
  const checks = Object.entries(readiness.checks ?? {});
  if (checks.length === 0) return readiness.ready ? 'ready' : 'not ready';
  return h(
    'ul',
    { class: 'checks' },
    checks.map(([name, value]) =>
      h(
        'li',
        // A ready resource's checks are good whatever they say (the broker's: `nats-server 2.10.22`).
        { class: readiness.ready || value === 'ok' ? 'ok' : 'bad' },
        h('span', { class: 'check-name' }, name),
        ` ${value}`,
      ),
    ),
  );
}

async function act(action, service, refresh) {
  say(`${action} ${service}…`);
  try {
    await api(`/api/resources/${action}`, { services: [service] });
    say(`${service}: ${action} done`);
  } catch (error) {
    say(`${service}: ${action} failed: ${error.message}`);
  }
  await refresh();
}

// Why the broker's row has no buttons (broker-resource.ts: kind `nats` or `broker`).
const notStoppable = {
  nats: 'not stopped here: the NATS server is yours (NATS_URL)',
  broker: 'nothing to stop: no process',
};

function actions(process, refresh, busy) {
  if (process.kind in notStoppable) return h('span', { class: 'hint' }, notStoppable[process.kind]);
  // One set of buttons per service (its first instance's row): they act on every instance.
  if (process.kind === 'service' && !process.instance.endsWith('-1')) return '';
  const button = (action, label, disabled) =>
    h(
      'button',
      {
        type: 'button',
        id: `${action}-${process.service}`,
        'aria-label': `${label} ${process.service}`,
        disabled: disabled || busy.has(process.service),
        onclick: async () => {
          busy.add(process.service);
          await refresh();
          await act(action, process.service, refresh).finally(() => busy.delete(process.service));
          await refresh();
        },
      },
      label,
    );
  const stopped = process.status === 'stopped';
  return h(
    'div',
    { class: 'actions' },
    button('stop', 'Stop', stopped),
    button('start', 'Start', !stopped),
    button('restart', 'Restart', stopped),
  );
}

export function resourcesPage(main) {
  const busy = new Set();
  const body = h('div', {});
  main.append(h('h1', {}, 'Resources'), body);
  const refresh = async () => {
    const { processes } = await api('/api/resources');
    const focused = document.activeElement?.id;
    const rows = processes.map((process) =>
      h(
        'tr',
        { 'data-instance': process.instance },
        h('th', { scope: 'row' }, process.instance),
        h('td', {}, process.kind),
        h(
          'td',
          {},
          h(
            'span',
            { class: `state state-${process.status}` },
            stateLabels[process.status] ?? process.status,
          ),
        ),
        h('td', { class: 'num' }, process.pid ?? '–'),
        h('td', {}, process.address ?? '–'),
        h('td', {}, process.status === 'ready' ? uptime(process.readyAt) : '–'),
        h('td', { class: 'num' }, process.restarts ?? '–'),
        h('td', {}, readinessCell(process)),
        h('td', {}, actions(process, refresh, busy)),
      ),
    );
    body.replaceChildren(
      table(
        'Processes of this run',
        ['Name', 'Kind', 'State', 'PID', 'Address', 'Uptime', 'Restarts', 'Readiness', 'Actions'],
        rows,
      ),
    );
    if (focused) document.getElementById(focused)?.focus();
  };
  return poll(refresh, 2000);
}
