/**
 * `berth call`, as `micro call`: one request to a running service, straight or
 * through the gateway (../service-call.ts), its answer pretty-printed.
 */
import { type Command, type CommandIo, integerOption, UsageError } from '../command.ts';
import { formatOptions } from '../format/usage.ts';
import { openLocalRegistry, registryDirHelp, registryDirOption } from '../local-system.ts';

/** `-H 'Authorization: Bearer x'` → `{authorization: 'Bearer x'}`. */
function parseHeaders(raw: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const header of raw) {
    const colon = header.indexOf(':');
    const name = header.slice(0, colon).trim();
    if (colon < 0 || !/^[!#$%&'*+.^`|~\w-]+$/.test(name)) {
      throw new UsageError(`header "${header}" must look like "Name: value"`);
    }
    headers[name.toLowerCase()] = header.slice(colon + 1).trim();
  }
  return headers;
}

function pretty(json: string): string {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return json;
  }
}

export const callCommand: Command = {
  name: 'call',
  usage: `Usage: berth call <service> <Service.Method> ['<json request>'] [options]

Calls an instance of <service> found in the local registry (Connect JSON), or
the gateway's /rpc with --via-gateway, and prints the response. On failure it
prints {id, code, detail, status} to stderr and exits 1.

  berth call greeter Say.Hello '{"name": "Ann"}'
  berth call vessel VesselService.Create '{"capacity": 500}' -H 'Authorization: Bearer x'

${formatOptions([
  ["-H, --header 'Name: value'", "metadata to send, e.g. -H 'Authorization: Bearer x'; repeatable"],
  ['--timeout <ms>', 'deadline of the call (default 10000)'],
  ['--via-gateway <url>', "call through a gateway's /rpc, e.g. http://localhost:8080"],
  registryDirHelp,
])}`,
  options: {
    header: { type: 'string', short: 'H', multiple: true },
    timeout: { type: 'string' },
    'via-gateway': { type: 'string' },
    ...registryDirOption,
  },
  async run({ positionals, values }, io: CommandIo) {
    const [service, method, rawRequest, ...extra] = positionals;
    if (service === undefined || method === undefined) {
      throw new UsageError('expected a service and a method, e.g. berth call greeter Say.Hello');
    }
    if (extra.length > 0) {
      throw new UsageError(`unexpected argument "${extra[0]}" (quote the JSON request as one argument)`);
    }
    if (!/^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$/.test(method)) {
      throw new UsageError(`method "${method}" must look like Service.Method, e.g. Say.Hello`);
    }
    const timeoutMs = integerOption(values, 'timeout', 'milliseconds', 1);
    const gatewayUrl = values['via-gateway'] as string | undefined;
    if (gatewayUrl !== undefined && !/^https?:\/\/[^/]/.test(gatewayUrl)) {
      throw new UsageError(
        `--via-gateway must be an http(s) URL, e.g. http://localhost:8080; got "${gatewayUrl}"`,
      );
    }
    const headers = parseHeaders((values.header as string[] | undefined) ?? []);

    // Loaded only now: the RPC stack is most of what `berth` would otherwise load on every start.
    const { callService } = await import('../service-call.ts');
    const request = { service, method, request: rawRequest, headers, timeoutMs, signal: io.signal };
    let outcome: Awaited<ReturnType<typeof callService>>;
    if (gatewayUrl !== undefined) outcome = await callService(request, { gatewayUrl });
    else {
      const registry = openLocalRegistry(values, io);
      try {
        outcome = await callService(request, { registry });
      } finally {
        await registry.close();
      }
    }
    if (outcome.ok) {
      io.stdout.write(`${pretty(outcome.json)}\n`);
      return 0;
    }
    io.stderr.write(`${JSON.stringify(outcome.error, null, 2)}\n`);
    return 1;
  },
};
