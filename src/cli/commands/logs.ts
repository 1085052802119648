/**
 * `berth logs`: what the processes of a local system (`berth run`) wrote, from
 * `<data dir>/logs/<instance>.log`. Several instances are merged by time and
 * prefixed; on a terminal JSON lines are rendered for people.
 */

import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { colourFor, createPrettifier, prefixed } from '../../runner/log-output.ts';
import { findDataDir } from '../../runner/state.ts';
import { type Command, integerOption, UsageError } from '../command.ts';
import { colourEnabled } from '../format/colour.ts';
import { formatOptions } from '../format/usage.ts';
import { clusterLogs, clusterLogsHelp, clusterLogsOptions } from '../kube-logs.ts';

interface Source {
  readonly instance: string;
  readonly file: string;
  offset: number;
  partial: string;
}

interface Line {
  readonly source: Source;
  readonly text: string;
  readonly time: number;
}

export const logsCommand: Command = {
  name: 'logs',
  usage: `Usage: berth logs [service | instance ...] [options]

Prints what the processes of the system started by "berth run" wrote (the
running one, else the one whose berth.yaml is in this folder; BERTH_DATA_DIR
picks another). A service name shows all its instances (vessel → vessel-1,
vessel-2); an instance name only that one; nothing: every process.

${formatOptions([
  ['-f, --follow', 'keep printing new lines until Ctrl-C'],
  ['-n, --tail <n>', 'start with the last n lines of each instance (default: all)'],
  // Kubernetes: the pods of a deployed service (src/cli/kube-logs.ts).
  ...clusterLogsHelp,
])}`,
  options: {
    follow: { type: 'boolean', short: 'f' },
    tail: { type: 'string', short: 'n' },
    ...clusterLogsOptions,
  },
  async run({ positionals, values }, io) {
    const tail = integerOption(values, 'tail', 'a number of lines', 0);
    if (values.cluster === true) return clusterLogs(positionals, values, tail ?? 100, io);
    const dataDir = findDataDir({ cwd: io.cwd, env: io.env });
    if (dataDir === undefined) {
      throw new Error('no system here: run it with "berth run", or set BERTH_DATA_DIR to its data dir');
    }
    const logsDir = join(dataDir, 'logs');
    const instances = (await readdir(logsDir).catch(() => []))
      .filter((name) => name.endsWith('.log'))
      .map((name) => name.slice(0, -'.log'.length))
      .sort();
    const chosen =
      positionals.length === 0
        ? instances
        : instances.filter((instance) => positionals.some((name) => names(instance, name)));
    const missing = positionals.filter((name) => !chosen.some((instance) => names(instance, name)));
    if (missing.length > 0 || chosen.length === 0) {
      throw new UsageError(
        `no logs for ${missing.join(', ') || 'any process'} in ${logsDir}; there are: ${instances.join(', ') || 'none'}`,
      );
    }
    const sources: Source[] = chosen.map((instance) => ({
      instance,
      file: join(logsDir, `${instance}.log`),
      offset: 0,
      partial: '',
    }));
    const pretty = colourEnabled(io);
    const prettify = pretty ? createPrettifier(true) : (line: string) => line;
    const width = Math.max(...chosen.map((instance) => instance.length));
    const print = (lines: Line[]) => {
      for (const { source, text } of lines.sort((a, b) => a.time - b.time)) {
        const shown = prettify(text);
        io.stdout.write(
          sources.length === 1
            ? `${shown}\n`
            : prefixed(
                shown,
                source.instance.padEnd(width),
                pretty ? colourFor(sources.indexOf(source)) : undefined,
              ),
        );
      }
    };
    const first = await Promise.all(sources.map((source) => readNew(source)));
    print(
      first.flatMap((lines) => (tail === undefined ? lines : lines.slice(Math.max(0, lines.length - tail)))),
    );
    while (values.follow === true && !io.signal.aborted) {
      await sleep(200, undefined, { signal: io.signal }).catch(() => {});
      print((await Promise.all(sources.map((source) => readNew(source)))).flat());
    }
    return 0;
  },
};

/** `vessel-2` is named by `vessel-2` and by its service, `vessel`. */
function names(instance: string, name: string): boolean {
  return (
    instance === name || (instance.startsWith(`${name}-`) && /^\d+$/.test(instance.slice(name.length + 1)))
  );
}

/** Complete lines added to the file since the last read; a file truncated by a new run starts over. */
async function readNew(source: Source): Promise<Line[]> {
  const size = await stat(source.file).then(
    (stats) => stats.size,
    () => 0,
  );
  if (size < source.offset) {
    source.offset = 0;
    source.partial = '';
  }
  if (size === source.offset) return [];
  const handle = await open(source.file, 'r');
  const buffer = Buffer.alloc(size - source.offset);
  try {
    await handle.read(buffer, 0, buffer.length, source.offset);
  } finally {
    await handle.close();
  }
  source.offset = size;
  const texts = (source.partial + buffer.toString('utf8')).split('\n');
  source.partial = texts.pop()!;
  // Lines without a time (a stack trace, a warning) keep their place after the line before them.
  let time = 0;
  return texts.map((text) => {
    const match = /"time":(\d+)/.exec(text);
    if (match) time = Number(match[1]);
    return { source, text, time };
  });
}
