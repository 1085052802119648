/**
 * `berth` entry point: picks the command, parses its options, runs it, exits
 * with its code. Ctrl-C aborts the command's signal once; a second one exits.
 */
import { enableCompileCache } from 'node:module';
import { parseArgs } from 'node:util';
import { type CommandIo, UsageError } from './command.ts';
import { commands } from './commands/index.ts';

function help(): string {
  const width = Math.max(...commands.map(([name]) => name.length), 4);
  const lines = commands.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`);
  return `berth: TypeScript microservices, on a laptop and on Kubernetes\n\nUsage: berth <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "berth help <command>" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    if (rest[0] === undefined) {
      process.stdout.write(help());
      return 0;
    }
    const topic = commands.find(([commandName]) => commandName === rest[0]);
    if (!topic) {
      process.stderr.write(`berth help: no command "${rest[0]}"\n\n${help()}`);
      return 2;
    }
    process.stdout.write(`${(await topic[2]()).usage}\n`);
    return 0;
  }
  const entry = commands.find(([commandName]) => commandName === name);
  if (!entry) {
    process.stderr.write(`berth: unknown command "${name}"\n\n${help()}`);
    return 2;
  }
  const command = await entry[2]();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.usage}\n`);
    return 0;
  }
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts += 1;
    if (interrupts > 1) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  const io: CommandIo = {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
    isTty: process.stdout.isTTY === true,
  };
  try {
    const parsed = parseArgs({
      args: rest,
      options: command.options ?? {},
      allowPositionals: true,
      strict: true,
    });
    return await command.run(
      { positionals: parsed.positionals, values: parsed.values as Record<string, unknown> },
      io,
    );
  } catch (error) {
    const isUsage =
      error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`berth ${name}: ${(error as Error).message}\n`);
    if (isUsage) {
      process.stderr.write(`\n${command.usage}\n`);
      return 2;
    }
    return 1;
  }
}

// Later starts skip TypeScript stripping and compilation of what this one loaded.
enableCompileCache();
process.exitCode = await main(process.argv.slice(2));
