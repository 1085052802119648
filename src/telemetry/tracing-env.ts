/**
 * Whether a process traces, from the standard OpenTelemetry variables, and a
 * check of the ones berth or the SDK would otherwise misread in silence (the SDK
 * logs a bad sampler through `diag` and falls back to its default). It imports
 * nothing of OpenTelemetry: a process that does not trace never loads it.
 *
 * Tracing is on when an exporter is named (`OTEL_TRACES_EXPORTER=otlp|console`) or
 * an OTLP endpoint is set, and `OTEL_SDK_DISABLED` is not `true`. The SDK itself
 * reads the rest (endpoint, headers, sampler, resource, batch delay) when started.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** The OTLP protocols and trace samplers of the OpenTelemetry specification; berth.yaml's `telemetry` takes the same. */
export const otlpProtocols = ['http/protobuf', 'http/json', 'grpc'] as const;
export const traceSamplers = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;

export type OtlpProtocol = (typeof otlpProtocols)[number];
export type TraceExporterKind = 'otlp' | 'console';

export interface TracingSettings {
  readonly exporters: readonly TraceExporterKind[];
  /** Of the OTLP exporter. */
  readonly protocol: OtlpProtocol;
}

const protocols: readonly string[] = otlpProtocols;
const samplers: readonly string[] = traceSamplers;

/** A variable with a value tracing cannot take; the message names it. */
export class TracingSettingError extends Error {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

const value = (env: Env, name: string): string | undefined => {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? undefined : raw;
};

/** Whether the variables ask for tracing, without checking them (the logger's question). */
export function tracingRequested(env: Env): boolean {
  if (value(env, 'OTEL_SDK_DISABLED')?.toLowerCase() === 'true') return false;
  const exporter = value(env, 'OTEL_TRACES_EXPORTER');
  if (exporter !== undefined) return exporter.split(',').some((name) => name.trim() !== 'none');
  return value(env, 'OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined || endpointOfTraces(env) !== undefined;
}

const endpointOfTraces = (env: Env) => value(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');

/**
 * The settings when tracing is on, undefined when off; throws TracingSettingError
 * naming the first variable with a value it cannot take.
 */
export function tracingSettingsFromEnv(env: Env): TracingSettings | undefined {
  const disabled = value(env, 'OTEL_SDK_DISABLED')?.toLowerCase();
  if (disabled !== undefined && disabled !== 'true' && disabled !== 'false') {
    throw new TracingSettingError('OTEL_SDK_DISABLED', `expected true or false, got "${disabled}"`);
  }
  if (!tracingRequested(env)) return undefined;
  const exporters = exportersFrom(env);
  const protocolVariable =
    value(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') !== undefined
      ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
      : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = value(env, protocolVariable) ?? 'http/protobuf';
  if (!protocols.includes(protocol)) {
    throw new TracingSettingError(
      protocolVariable,
      `expected one of ${protocols.join(', ')}, got "${protocol}"`,
    );
  }
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
    const url = value(env, name);
    if (url !== undefined && !/^https?:\/\/[^/]/.test(url)) {
      throw new TracingSettingError(name, `expected an http:// or https:// URL, got "${url}"`);
    }
  }
  checkSampler(env);
  const delay = value(env, 'OTEL_BSP_SCHEDULE_DELAY');
  if (delay !== undefined && !/^\d+$/.test(delay)) {
    throw new TracingSettingError(
      'OTEL_BSP_SCHEDULE_DELAY',
      `expected milliseconds (an integer), got "${delay}"`,
    );
  }
  checkPairs(env, 'OTEL_EXPORTER_OTLP_HEADERS');
  checkPairs(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS');
  checkPairs(env, 'OTEL_RESOURCE_ATTRIBUTES');
  return { exporters, protocol: protocol as OtlpProtocol };
}

function exportersFrom(env: Env): TraceExporterKind[] {
  const named = value(env, 'OTEL_TRACES_EXPORTER');
  if (named === undefined) return ['otlp'];
  const exporters: TraceExporterKind[] = [];
  for (const name of named.split(',').map((item) => item.trim())) {
    if (name === 'none') continue;
    if (name !== 'otlp' && name !== 'console') {
      throw new TracingSettingError('OTEL_TRACES_EXPORTER', `expected otlp, console or none, got "${name}"`);
    }
    exporters.push(name);
  }
  return exporters;
}

function checkSampler(env: Env): void {
  const sampler = value(env, 'OTEL_TRACES_SAMPLER');
  if (sampler !== undefined && !samplers.includes(sampler)) {
    throw new TracingSettingError(
      'OTEL_TRACES_SAMPLER',
      `expected one of ${samplers.join(', ')}, got "${sampler}"`,
    );
  }
  const argument = value(env, 'OTEL_TRACES_SAMPLER_ARG');
  if (argument === undefined) return;
  const ratio = Number(argument);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new TracingSettingError(
      'OTEL_TRACES_SAMPLER_ARG',
      `expected a ratio from 0 to 1, got "${argument}"`,
    );
  }
}

/** `key=value,key=value`, as the headers and resource attributes are written. */
function checkPairs(env: Env, name: string): void {
  const list = value(env, name);
  if (list === undefined) return;
  for (const pair of list.split(',')) {
    const separator = pair.indexOf('=');
    if (separator < 1 || pair.slice(0, separator).trim() === '') {
      throw new TracingSettingError(
        name,
        `expected key=value pairs separated by commas, got "${pair.trim()}"`,
      );
    }
  }
}
