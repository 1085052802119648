/**
 * `berth` entry point: picks the command, parses its options, runs it, exits
 * with its code. Ctrl-C aborts the command's signal once; a second one exits.
 */
import { enableCompileCache } from 'node:module';
import { parseArgs } from 'node:util';
import { type CommandIo, UsageError } from './command.ts';
import { commands } from './commands/index.ts';

async function help(): Promise<string> {
  const loaded = await Promise.all(commands.map(([, load]) => load()));
  const width = Math.max(...loaded.map((command) => command.name.length), 4);
  const lines = loaded.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`);
  return `berth: TypeScript microservices, on a laptop and on Kubernetes\n\nUsage: berth <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun "berth help <command>" for a command's options.\n`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = commands.find(([commandName]) => commandName === rest[0]);
    process.stdout.write(topic ? `${(await topic[1]()).usage}\n` : await help());
    return 0;
  }
  const entry = commands.find(([commandName]) => commandName === name);
  if (!entry) {
    process.stderr.write(`berth: unknown command "${name}"\n\n${await help()}`);
    return 2;
  }
  const command = await entry[1]();
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
