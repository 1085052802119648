/**
 * Logger: pino. Libraries receive a logger (pino-compatible) and make children of
 * it per service and per request; only the CLI decides where logs go.
 */
import { type Logger, pino } from 'pino';
import { activeTracing } from '../telemetry/active.ts';
import { tracingRequested } from '../telemetry/tracing-env.ts';

export type { Logger };

export interface LoggerOptions {
  readonly name?: string;
  readonly level?: string;
  /** Pretty, coloured lines for a person at a terminal; JSON lines otherwise. */
  readonly pretty?: boolean;
  /** Lines logged inside a span carry its `trace_id` and `span_id` (once tracing is started). */
  readonly traceIds?: boolean;
}

const noIds = Object.freeze({});
/** Installed only when the process traces; fresh ids per line inside a span, else `noIds`. */
const traceIds = {
  mixin: () => activeTracing?.logFields() ?? noIds,
  // pino's default merges the line into the mixin's object: never into the shared empty one.
  mixinMergeStrategy: (line: object, ids: object) => (ids === noIds ? line : Object.assign(ids, line)),
};

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const mixins = options.traceIds ? traceIds : {};
  if (options.pretty) {
    return pino({
      name: options.name,
      level,
      ...mixins,
      transport: {
        target: 'pino-pretty',
        options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' },
      },
    });
  }
  return pino({ name: options.name, level, ...mixins, base: { pid: process.pid } });
}

/**
 * The logger a process configures from LOG_LEVEL (pino's levels, default info) and
 * LOG_FORMAT (`json` or `pretty`; default pretty at a terminal). A value it does not
 * know is an error naming the variable, not pino's "default level:… must be
 * included in custom levels" or a silent fallback to JSON. When the OTEL_* variables
 * ask for tracing, its lines carry the active span's ids (tracing-env.ts).
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
  return createLogger({ name, level, pretty: format === 'pretty', traceIds: tracingRequested(env) });
}

/** A logger that drops everything, for tests and tools that must stay quiet. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
