/**
 * `berth traces`: the recent traces of the system `berth run` runs, as a table,
 * for people without a browser. They come from the run's dashboard (its URL and
 * page token, sent as `Authorization: Bearer`, are in the owner-only state.json),
 * which received them from the services.
 */
import { AttributeFilterError, parseAttributeFilters } from '../../dashboard/attribute-filter.ts';
import type { TraceSummary } from '../../dashboard/span-store.ts';
import { findRunningSystem } from '../../runner/state.ts';
import { type Command, integerOption, UsageError } from '../command.ts';
import { painter } from '../format/colour.ts';
import { renderTable } from '../format/table.ts';
import { formatOptions } from '../format/usage.ts';

export const tracesCommand: Command = {
  name: 'traces',
  usage: `Usage: berth traces [options]

Prints the most recent traces of the system started by "berth run" (the running
one; BERTH_DATA_DIR picks another), newest first: when it started, its root span,
duration, spans, errors, the services it crossed, and its trace id (open it in the
dashboard's Traces page). Only traces the dashboard received: not when the run's
OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT sends them elsewhere.

--attr key=value keeps the traces with a span whose attribute, or whose
resource's, is that value, compared as text (--attr http.response.status_code=503,
--attr service.instance.id=vessel-2); --attr key alone, set to anything. Given
several times, every one must match (on any span of the trace); at most 10.

${formatOptions([
  ['--service <name>', 'only traces with a span of this service'],
  ['--errors', 'only traces with a span that failed'],
  ['--attr <key=value>', 'only traces with this attribute (see above); repeatable'],
  ['-n, --limit <n>', 'at most n traces (default 20)'],
  ['--json', 'print {"traces": [...]} instead of a table'],
])}`,
  options: {
    service: { type: 'string' },
    errors: { type: 'boolean' },
    attr: { type: 'string', multiple: true },
    limit: { type: 'string', short: 'n' },
    json: { type: 'boolean' },
  },
  async run({ positionals, values }, io) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const limit = integerOption(values, 'limit', 'a number of traces', 1, 1000) ?? 20;
    const attributes = (values.attr as string[] | undefined) ?? [];
    try {
      parseAttributeFilters(attributes);
    } catch (error) {
      if (error instanceof AttributeFilterError) throw new UsageError(`--attr: ${error.message}`);
      throw error;
    }
    const state = findRunningSystem({ cwd: io.cwd, env: io.env });
    if (!state) throw new Error('no system is running here: start it with "berth run"');
    if (!state.dashboard) throw new Error(`${state.system} runs without a dashboard: no traces to show`);
    const query = new URLSearchParams({ limit: String(limit) });
    if (typeof values.service === 'string') query.set('service', values.service);
    if (values.errors === true) query.set('errors', '1');
    for (const attribute of attributes) query.append('attr', attribute);
    const response = await fetch(`${state.dashboard.url}/api/traces?${query}`, {
      headers: { authorization: `Bearer ${state.dashboard.token}` },
      signal: AbortSignal.any([io.signal, AbortSignal.timeout(10_000)]),
    }).catch((error: Error) => {
      throw new Error(
        `cannot reach the dashboard of ${state.system} at ${state.dashboard!.url}: ${error.message}`,
      );
    });
    const body = (await response.json()) as {
      traces: TraceSummary[];
      tracesElsewhere?: string;
      error?: string;
    };
    if (!response.ok) throw new Error(`the dashboard answered ${response.status}: ${body.error}`);
    if (values.json === true) {
      io.stdout.write(`${JSON.stringify({ traces: body.traces }, null, 2)}\n`);
      return 0;
    }
    if (body.traces.length === 0) {
      io.stdout.write(
        body.tracesElsewhere
          ? `no traces here: ${state.system}'s services send them to ${body.tracesElsewhere} (OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT)\n`
          : 'no traces yet (or none matching)\n',
      );
      return 0;
    }
    const paint = painter(io);
    const rows = body.traces.map((trace) => [
      new Date(trace.startMs).toISOString().slice(11, 23),
      trace.root,
      `${trace.durationMs.toFixed(1)} ms`,
      String(trace.spanCount),
      trace.errorCount > 0
        ? { text: String(trace.errorCount), paint: (text: string) => paint(text, 'red') }
        : '0',
      trace.services.join(','),
      trace.traceId,
    ]);
    io.stdout.write(
      renderTable(['STARTED', 'ROOT', 'DURATION', 'SPANS', 'ERRORS', 'SERVICES', 'TRACE'], rows),
    );
    return 0;
  },
};
