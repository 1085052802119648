/** Runs wrk against one URL and reads its summary (requests/s, latency percentiles, errors). */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const wrkPath = '/usr/bin/wrk';
const script = join(import.meta.dirname, 'post.lua');
/** wrk processes still running, killed with the servers on an interrupted run. */
const running = new Set<ChildProcess>();

export interface LoadOptions {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly threads: number;
  readonly durationS: number;
}

export interface WrkResult {
  readonly requests: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Non-2xx answers plus socket errors (connect, read, write, timeout). */
  readonly errors: number;
}

export function assertWrkInstalled(): void {
  if (!existsSync(wrkPath)) throw new Error(`${wrkPath} not found: install it with "apt-get install wrk"`);
}

export function runWrk(options: LoadOptions): Promise<WrkResult> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${options.durationS}s`,
    '--latency',
    '-s',
    script,
    options.url,
  ];
  const env = {
    ...process.env,
    WRK_BODY: options.body,
    WRK_HEADERS: Object.entries(options.headers)
      .map(([name, value]) => `${name}: ${value}`)
      .join('\n'),
  };
  return new Promise((resolve, reject) => {
    const child = spawn(wrkPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`wrk exited with ${code}:\n${output}`));
      else {
        try {
          resolve(parseWrk(output));
        } catch (error) {
          reject(error);
        }
      }
    });
  });
}

/** Kills every wrk still running (on an interrupted run). */
export function killWrk(): void {
  for (const child of running) child.kill('SIGKILL');
}

/** wrk prints durations as `812.00us`, `1.23ms`, `2.00s`, `1.00m`. */
function toMs(value: string, unit: string): number {
  const scale: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const factor = scale[unit];
  if (factor === undefined) throw new Error(`wrk printed an unknown time unit "${unit}"`);
  return Number(value) * factor;
}

export function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp, what: string): RegExpExecArray => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`wrk output has no ${what}:\n${output}`);
    return match;
  };
  const percentile = (p: number) => {
    const match = number(new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm'), `${p}% latency`);
    return toMs(match[1], match[2]);
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requests: Number(number(/^\s*(\d+) requests in /m, 'request count')[1]),
    requestsPerSec: Number(number(/^Requests\/sec:\s+([\d.]+)/m, 'Requests/sec')[1]),
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    errors: socketErrors + (non2xx ? Number(non2xx[1]) : 0),
  };
}
