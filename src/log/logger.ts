/**
 * Logger: pino. Libraries receive a logger (pino-compatible) and make children of
 * it per service and per request; only the CLI decides where logs go.
 */
import { type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  readonly name?: string;
  readonly level?: string;
  /** Pretty, coloured lines for a person at a terminal; JSON lines otherwise. */
  readonly pretty?: boolean;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  if (options.pretty) {
    return pino({
      name: options.name,
      level,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ name: options.name, level, base: { pid: process.pid } });
}

/** A logger that drops everything, for tests and tools that must stay quiet. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
