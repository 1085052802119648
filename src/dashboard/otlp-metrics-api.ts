/**
 * GET /api/otlp-metrics?service= (the series kept, each with its latest point) and
 * GET /api/otlp-metrics/series?id= (one series' points), from the store of the
 * metrics apps export over OTLP (otlp-metric-store.ts). A parameter that is not
 * one of these, given twice or empty is a 400 naming it.
 */
import { HttpError } from './http-io.ts';
import type { OtlpMetricStore } from './otlp-metric-store.ts';

/** The answer to `path` (one of the two), or undefined for any other path. */
export function otlpMetricsAnswer(store: OtlpMetricStore, path: string, params: URLSearchParams): unknown {
  if (path === '/api/otlp-metrics') return store.list(onlyParam(params, path, 'service'));
  if (path !== '/api/otlp-metrics/series') return undefined;
  const id = onlyParam(params, path, 'id');
  if (id === undefined) throw new HttpError(400, 'id: missing; give a series id from GET /api/otlp-metrics');
  if (!/^[1-9]\d{0,15}$/.test(id)) {
    throw new HttpError(
      400,
      `id: expected a series id (a positive integer) from GET /api/otlp-metrics, got "${id}"`,
    );
  }
  const series = store.series(Number(id));
  if (!series) throw new HttpError(404, `series ${id} is not (or no longer) kept here`);
  return series;
}

/** The one parameter `path` takes, if given; HttpError 400 for any other, or it given twice or empty. */
function onlyParam(params: URLSearchParams, path: string, name: string): string | undefined {
  for (const other of new Set(params.keys())) {
    if (other !== name) throw new HttpError(400, `${other}: not a parameter of ${path} (it takes ${name})`);
  }
  const values = params.getAll(name);
  if (values.length > 1) throw new HttpError(400, `${name}: given ${values.length} times, expected once`);
  if (values[0] === '') throw new HttpError(400, `${name}: empty; leave it out or give one`);
  return values[0];
}
