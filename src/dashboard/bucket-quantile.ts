/**
 * The upper bound of the histogram bucket that holds a quantile of `count`
 * observations, as the dashboard shows a p95: no interpolation inside the
 * bucket, and none past the last finite bound (undefined there). Shared by
 * berth's RPC histograms scraped from /metrics (metrics-view.ts) and the
 * histograms apps export over OTLP (otlp-metric-store.ts).
 */

/** `bounds` ascending; `cumulative[i]`: the observations at or under `bounds[i]`. */
export function bucketQuantile(
  bounds: readonly number[],
  cumulative: readonly number[],
  count: number,
  quantile: number,
): number | undefined {
  if (count <= 0) return undefined;
  const bound = bounds[cumulative.findIndex((n) => n >= count * quantile)];
  return bound !== undefined && Number.isFinite(bound) ? bound : undefined;
}
