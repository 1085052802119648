/**
 * `@opentelemetry/api` for the store's and the broker's spans, loaded only once
 * something in the process registered OpenTelemetry (an SDK's `provider.register()`,
 * as berth's tracing setup or a user's own does): with tracing off a service loads
 * nothing of OpenTelemetry (~1 MB and tens of ms of start-up each, docs/footprint.md),
 * and a span site costs one property check.
 *
 * Every copy of the API keeps what is registered under one versioned global symbol
 * (that is how copies find each other), so its presence is the check; what is then
 * loaded is the API itself, whose no-op and registered behaviour is the API's own.
 */
export type OpenTelemetryApi = typeof import('@opentelemetry/api');

const registryKey = Symbol.for('opentelemetry.js.api.1');
let loaded: OpenTelemetryApi | undefined;
let loading: Promise<OpenTelemetryApi> | undefined;

/** Whether a tracer provider, context manager or propagator is registered with the API. */
function registered(): boolean {
  const registry = (globalThis as Record<symbol, Record<string, unknown> | undefined>)[registryKey];
  return registry !== undefined && (registry.trace ?? registry.context ?? registry.propagation) !== undefined;
}

/**
 * The API when OpenTelemetry is registered: at once once loaded, else a promise of it
 * (the first call loads it); undefined when nothing is registered.
 */
export function openTelemetry(): OpenTelemetryApi | Promise<OpenTelemetryApi> | undefined {
  if (!registered()) return undefined;
  if (loaded) return loaded;
  loading ??= import('@opentelemetry/api').then((api) => {
    loaded = api;
    return api;
  });
  return loading;
}

/** The API when OpenTelemetry is registered and the API already loaded; else undefined. */
export function loadedOpenTelemetry(): OpenTelemetryApi | undefined {
  return registered() ? loaded : undefined;
}
