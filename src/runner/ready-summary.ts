/**
 * What `berth run` prints once the whole system is ready: each process with its
 * address and resident memory, where the logs are, and how to call a service.
 *
 *   shippy is ready in 1.8 s (dev)
 *     postgres   postgres://postgres:***@127.0.0.1:5433/postgres  139 MB
 *     gateway    http://127.0.0.1:8080                             75 MB
 *     vessel-1   http://127.0.0.1:41873                            82 MB
 *     dashboard  http://127.0.0.1:41000/#t=<token>                  traces, logs, metrics, API explorer
 *     logs       .berth/logs                                       berth logs <service> [-f]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { formatSeconds } from './log-output.ts';
import type { ProcessState } from './state.ts';

export interface ReadySummary {
  readonly system: string;
  readonly environment: string;
  readonly readyMs: number;
  readonly processes: readonly ProcessState[];
  readonly gatewayPort: number;
  readonly logsDir: string;
  /** The dashboard's URL with its token, when it runs. */
  readonly dashboard?: string;
  readonly bold: (text: string) => string;
}

export function formatReadySummary(summary: ReadySummary): string {
  const rows = summary.processes
    .filter((process) => process.status === 'ready')
    .map((process) => {
      const url =
        process.kind === 'postgres'
          ? `postgres://postgres:***@${process.address}/postgres` // the password: databaseUrl in state.json
          : `http://${process.address}`;
      return [process.instance, url, rss(process.pid)];
    });
  if (summary.dashboard) rows.push(['dashboard', summary.dashboard, 'traces, logs, metrics, API explorer']);
  rows.push(['logs', shownPath(summary.logsDir), 'berth logs <service> [-f]']);
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  const lines = rows.map(
    (row) => `  ${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}`,
  );
  const gateway = `http://127.0.0.1:${summary.gatewayPort}`;
  return (
    `\n${summary.bold(`${summary.system} is ready in ${formatSeconds(summary.readyMs)}`)} (${summary.environment})\n` +
    `${lines.join('\n')}\n` +
    `Call a service: curl ${gateway}/rpc -H 'content-type: application/json' -d '{"service": "…", "method": "…", "request": {}}'\n` +
    `Press Ctrl-C to stop.\n\n`
  );
}

/** Relative to the current folder when inside it, else absolute. */
export function shownPath(path: string): string {
  const shown = relative(process.cwd(), path);
  return shown.startsWith('..') || shown === '' ? path : shown;
}

/** Resident memory of a process, from /proc (Linux); empty elsewhere. */
function rss(pid: number | undefined): string {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]);
    return Number.isFinite(kb) ? `${Math.round(kb / 1024)} MB` : '';
  } catch {
    return '';
  }
}
