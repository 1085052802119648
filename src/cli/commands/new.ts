/** `berth new system <dir>` and `berth new service <name>`: scaffolds (docs/scaffold.md). */
import { relative, resolve } from 'node:path';
import type { AddedService } from '../../scaffold/new-service.ts';
import { addService, parseUses } from '../../scaffold/new-service.ts';
import { EXAMPLE_SERVICE, newSystem } from '../../scaffold/new-system.ts';
import { type Command, type CommandIo, UsageError } from '../command.ts';
import { formatOptions } from '../format/usage.ts';

function report(io: CommandIo, dir: string, what: string, result: AddedService): void {
  const where = relative(io.cwd, dir) || '.';
  io.stdout.write(`${what} in ${where}:\n${result.files.map((file) => `  ${file}`).join('\n')}\n`);
  if (result.generateError) {
    io.stderr.write(
      `\ngen/ was not generated: ${result.generateError}\nOnce that is fixed: npm run generate (= berth generate ${where})\n`,
    );
  }
}

function single(positionals: readonly string[], what: string): string {
  const [value, extra] = positionals;
  if (value === undefined) throw new UsageError(`missing ${what}`);
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  return value;
}

export const newCommand: Command = {
  name: 'new',
  usage: `Usage: berth new system <dir> [--name <system>] [--berth <path>]
       berth new service <name> [--in <system dir>] [--uses postgres,nats]

new system writes a runnable system into <dir> (new or empty): berth.yaml,
package.json, a README, and one example service, "${EXAMPLE_SERVICE}", with its
.proto, generated code, handlers, settings and a test. Then, in <dir>:
npm install && npm start, and npm test.

new service adds a service to a system: proto/<system>/<name>/v1/<name>.proto
(package <system>.<name>.v1, one <Name>Service with a sample method), its
generated code, <name>/ with main.ts, service.ts, handlers.ts, configs/base.yaml
and a test, and its entry in berth.yaml. Names are lowercase letters, digits
and "-", starting with a letter.

${formatOptions([
  ['--name <system>', 'new system: the system name (default: the folder name)'],
  ['--berth <path>', 'new system: depend on the berth checkout at <path> instead of the published berth'],
  ['--in <dir>', 'new service: the system folder, holding berth.yaml (default: the current folder)'],
  [
    '--uses <list>',
    'new service: resources it uses, wired in: postgres (a schema of its own), nats (a broker)',
  ],
])}`,
  options: {
    name: { type: 'string' },
    berth: { type: 'string' },
    in: { type: 'string' },
    uses: { type: 'string' },
  },
  async run({ positionals, values }, io) {
    const [kind, ...rest] = positionals;
    const option = (name: string) => values[name] as string | undefined;
    if (kind === 'system') {
      for (const name of ['in', 'uses']) {
        if (option(name) !== undefined) throw new UsageError(`--${name} is for berth new service`);
      }
      const dir = resolve(io.cwd, single(rest, 'the folder to create (berth new system <dir>)'));
      const berthPath = option('berth');
      const result = newSystem({
        dir,
        system: option('name'),
        berthPath: berthPath === undefined ? undefined : resolve(io.cwd, berthPath),
        env: io.env,
      });
      report(io, dir, `created system ${result.system}`, result);
      const cd = relative(io.cwd, dir);
      io.stdout.write(`\nNext:\n${cd ? `  cd ${cd}\n` : ''}  npm install && npm start\n  npm test\n`);
      return 0;
    }
    if (kind === 'service') {
      for (const name of ['name', 'berth']) {
        if (option(name) !== undefined) throw new UsageError(`--${name} is for berth new system`);
      }
      const service = single(rest, 'the service name (berth new service <name>)');
      const systemDir = resolve(io.cwd, option('in') ?? '.');
      const result = addService({ systemDir, service, uses: parseUses(option('uses')), env: io.env });
      report(io, systemDir, `added service ${service} to ${result.system}`, result);
      io.stdout.write(`\nberth run (npm start) starts it with the others.\n`);
      return 0;
    }
    throw new UsageError(
      kind === undefined
        ? 'say what to create: system or service'
        : `cannot create "${kind}": system or service`,
    );
  },
};
