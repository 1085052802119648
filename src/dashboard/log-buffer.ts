/**
 * The last lines every instance wrote, as the runner saw them, and the log records
 * other processes sent over OTLP (POST /v1/logs, otlp-records.ts), for the Logs
 * page: a ring of `capacity` lines, each numbered so a page polling with
 * `after=<seq>` gets only what is new. Children log pino JSON; the level, message
 * and trace id are read from it (other lines are kept as they are, level unknown).
 */

export interface LogLine {
  readonly seq: number;
  readonly instance: string;
  readonly service: string;
  readonly timeMs: number;
  /** trace, debug, info, warn, error, fatal; `''` when the line is not pino JSON. */
  readonly level: string;
  readonly message: string;
  readonly traceId: string | undefined;
  readonly spanId: string | undefined;
  /** The line as written (JSON or not), for the detail view. */
  readonly raw: string;
}

/** A line before it is numbered: read from a process's output, or from an OTLP log record. */
export type LogEntry = Omit<LogLine, 'seq'>;

export interface LogQuery {
  readonly after?: number;
  readonly service?: string;
  /** This level and above. */
  readonly level?: string;
  readonly text?: string;
  readonly traceId?: string;
  readonly limit?: number;
}

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const pinoLevels: Record<number, string> = {
  10: 'trace',
  20: 'debug',
  30: 'info',
  40: 'warn',
  50: 'error',
  60: 'fatal',
};
/** A line longer than this is cut: a page of logs must stay a page. */
const maxLineChars = 8192;

export class LogBuffer {
  readonly #capacity: number;
  readonly #lines: LogLine[] = [];
  #seq = 0;

  constructor(capacity = 5000) {
    this.#capacity = capacity;
  }

  /** The number of the newest line (0: none yet). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** A line a process wrote. */
  add(instance: string, service: string, raw: string): void {
    const line = cut(raw);
    this.addEntries([{ instance, service, raw: line, ...parseLine(line) }]);
  }

  /** Lines already read (OTLP log records), their message and raw text cut as a written line is. */
  addEntries(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      this.#seq += 1;
      this.#lines.push({ seq: this.#seq, ...entry, message: cut(entry.message), raw: cut(entry.raw) });
    }
    // Once per batch: an OTLP request may hold more records than the ring keeps.
    if (this.#lines.length > this.#capacity) this.#lines.splice(0, this.#lines.length - this.#capacity);
  }

  /** Matching lines, oldest first: the last `limit` of them (default 500). */
  query(query: LogQuery = {}): LogLine[] {
    const minLevel = query.level ? LEVELS.indexOf(query.level) : -1;
    const text = query.text?.toLowerCase();
    const found = this.#lines.filter(
      (line) =>
        line.seq > (query.after ?? 0) &&
        (query.service === undefined || line.service === query.service) &&
        (minLevel < 0 || LEVELS.indexOf(line.level) >= minLevel) &&
        (query.traceId === undefined || line.traceId === query.traceId) &&
        (text === undefined || line.raw.toLowerCase().includes(text)),
    );
    return found.slice(-(query.limit ?? 500));
  }
}

function cut(text: string): string {
  return text.length > maxLineChars ? `${text.slice(0, maxLineChars)}…` : text;
}

function parseLine(line: string): Pick<LogLine, 'timeMs' | 'level' | 'message' | 'traceId' | 'spanId'> {
  if (line.startsWith('{')) {
    try {
      const entry = JSON.parse(line) as Record<string, unknown>;
      const traceId = entry.trace_id ?? entry.traceId;
      const spanId = entry.span_id ?? entry.spanId;
      return {
        timeMs: typeof entry.time === 'number' ? entry.time : Date.now(),
        level: pinoLevels[Number(entry.level)] ?? String(entry.level ?? ''),
        message: typeof entry.msg === 'string' ? entry.msg : line,
        traceId: typeof traceId === 'string' && /^[0-9a-f]{32}$/.test(traceId) ? traceId : undefined,
        spanId: typeof spanId === 'string' && /^[0-9a-f]{16}$/.test(spanId) ? spanId : undefined,
      };
    } catch {
      // not JSON after all: kept as text
    }
  }
  return { timeMs: Date.now(), level: '', message: line, traceId: undefined, spanId: undefined };
}
