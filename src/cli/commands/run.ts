/** `berth run`: the whole system on this machine, until Ctrl-C (src/runner/README.md). */

import { loadSystemFile } from '../../config/system-file.ts';
import { Runner } from '../../runner/runner.ts';
import { dataDirFor } from '../../runner/state.ts';
import { type Command, integerOption, UsageError } from '../command.ts';
import { colourEnabled } from '../format/colour.ts';
import { formatOptions } from '../format/usage.ts';

export const runCommand: Command = {
  name: 'run',
  usage: `Usage: berth run [dir | berth.yaml] [options]

Starts the system of berth.yaml (default: the one in the current folder): the
embedded Postgres (PGlite) unless DATABASE_URL is set, the gateway, and each
service as child processes, every service after what it dependsOn is ready.
Crashed processes restart with backoff. Ctrl-C stops everything in reverse
order and exits 0. Data and logs live in the data dir: $BERTH_DATA_DIR, else
.berth/data beside berth.yaml.

${formatOptions([
  ['--env <name>', 'overlay of berth.yaml to apply (default dev)'],
  ['--only <a,b>', 'run only these services and the services they depend on (plus the gateway)'],
  ['--port <port>', 'gateway port (default: gateway.port of berth.yaml, else 8080)'],
  ['--watch', 'reload a service when a file it runs changes, without a failed request'],
  ['--dashboard-port <port>', 'port of the dashboard (traces, logs, metrics; default any free port)'],
])}

Environment: DATABASE_URL (or <SERVICE>_DATABASE_URL) uses that PostgreSQL instead
of PGlite; NATS_URL gives services NATS JetStream instead of direct delivery;
OTEL_EXPORTER_OTLP_ENDPOINT (or _TRACES_ENDPOINT) sends the services' traces there, not to the
dashboard (docs/dashboard.md).`,
  options: {
    env: { type: 'string' },
    only: { type: 'string' },
    port: { type: 'string' },
    watch: { type: 'boolean' },
    'dashboard-port': { type: 'string' },
  },
  async run({ positionals, values }, io) {
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    const gatewayPort = integerOption(values, 'port', 'a port number', 1, 65_535);
    const dashboardPort = integerOption(values, 'dashboard-port', 'a port number', 1, 65_535);
    const only = ((values.only as string | undefined) ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean);
    const system = loadSystemFile(positionals[0] ?? '.', {
      env: values.env as string | undefined,
      cwd: io.cwd,
    });
    if (values.env !== undefined && !system.environments.includes(system.environment)) {
      io.stderr.write(
        `berth run: ${system.system} has no "${system.environment}" overlay (it has: ${system.environments.join(', ') || 'none'}); running the base settings\n`,
      );
    }
    // What the run's processes write (databases, logs, mails, services' own files) is
    // this user's only; children inherit the umask.
    process.umask(0o077);
    const runner = new Runner({
      system,
      env: io.env,
      dataDir: dataDirFor(system.root, io.env),
      only,
      gatewayPort,
      dashboardPort,
      watch: values.watch === true,
      out: io.stdout,
      pretty: colourEnabled(io),
    });
    // A second Ctrl-C makes main exit at once: the children must not outlive it.
    const onExit = () => runner.terminateNow();
    process.once('exit', onExit);
    try {
      try {
        await runner.start(io.signal);
      } catch (error) {
        await runner.stop();
        if (io.signal.aborted) return 0;
        io.stderr.write(`berth run: ${(error as Error).message}\n`);
        return 1;
      }
      const interrupted = new Promise<void>((resolve) => {
        if (io.signal.aborted) resolve();
        io.signal.addEventListener('abort', () => resolve(), { once: true });
      });
      await Promise.race([interrupted, runner.shutdownRequested]);
      io.stdout.write(`\nstopping ${system.system}…\n`);
      await runner.stop();
      io.stdout.write(`${system.system} stopped\n`);
      return 0;
    } finally {
      process.off('exit', onExit);
    }
  },
};
