/** `berth gateway`: the gateway in the foreground, over the local registry, until Ctrl-C. */

import { GatewaySettingError, gatewayFlags, gatewayOptionsFrom, runGateway } from '../../gateway/main.ts';
import { loggerFromEnv } from '../../log/logger.ts';
import { type Command, UsageError } from '../command.ts';
import { colourEnabled } from '../format/colour.ts';
import { formatOptions } from '../format/usage.ts';
import { openLocalRegistry, registryDirHelp, registryDirOption } from '../local-system.ts';

export const gatewayCommand: Command = {
  name: 'gateway',
  usage: `Usage: berth gateway [options]

Serves /rpc, path routes, Connect/gRPC-Web/gRPC pass-through, /healthz, /readyz
and /metrics for the services in the local registry, until Ctrl-C.
Each option falls back to the environment variable in brackets.

${formatOptions([
  ['--port <n>', 'port, 0 for any free one (BERTH_GATEWAY_PORT; default 8080)'],
  ['--host <addr>', 'interface to listen on (BERTH_HOST; default 127.0.0.1)'],
  ['--static <dir>', 'folder served at / (BERTH_STATIC_DIR)'],
  ['--cors <origin,...>', 'origins allowed to call from a browser, or * (BERTH_CORS_ORIGINS)'],
  ['--timeout <ms>', 'deadline of each call (BERTH_GATEWAY_TIMEOUT_MS; default 10000)'],
  ['--body-limit <bytes>', 'largest request body (BERTH_BODY_LIMIT; default 1048576)'],
  ['--known-services <a,b>', 'services that answer 503, not 404, while down (BERTH_KNOWN_SERVICES)'],
  ['--ops-port <n>', 'serve /metrics and /_berth/* on this port only (BERTH_OPS_PORT)'],
  registryDirHelp,
])}`,
  options: { ...gatewayFlags, ...registryDirOption },
  async run({ positionals, values }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const registry = openLocalRegistry(values, io);
    try {
      let options: ReturnType<typeof gatewayOptionsFrom>;
      try {
        options = gatewayOptionsFrom({
          flags: values,
          env: io.env,
          cwd: io.cwd,
          registry,
          logger: loggerFromEnv(io.env, colourEnabled(io)),
        });
      } catch (error) {
        // A bad flag is an invocation mistake; a bad environment variable is not.
        if (error instanceof GatewaySettingError && error.source.startsWith('--')) {
          throw new UsageError(error.message);
        }
        throw error;
      }
      await runGateway(options, io.signal, (url) => {
        io.stdout.write(`berth gateway listening on ${url} (registry ${registry.dir}); Ctrl-C to stop\n`);
      });
      return 0;
    } finally {
      await registry.close();
    }
  },
};
