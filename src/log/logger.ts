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

/**
 * The logger a process configures from LOG_LEVEL (pino's levels, default info) and
 * LOG_FORMAT (`json` or `pretty`; default pretty at a terminal). A value it does not
 * know is an error naming the variable, not pino's "default level:… must be
 * included in custom levels" or a silent fallback to JSON.
 */
export function loggerFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  isTty: boolean,
  name?: string,
): Logger {
  const level = env.LOG_LEVEL || 'info';
  const levels = [...Object.keys(pino.levels.values), 'silent'];
  if (!levels.includes(level)) {
    throw new Error(`LOG_LEVEL: expected one of ${levels.join(', ')}, got "${level}"`);
  }
  const format = env.LOG_FORMAT || (isTty ? 'pretty' : 'json');
  if (format !== 'json' && format !== 'pretty') {
    throw new Error(`LOG_FORMAT: expected json or pretty, got "${format}"`);
  }
  return createLogger({ name, level, pretty: format === 'pretty' });
}

/** A logger that drops everything, for tests and tools that must stay quiet. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
