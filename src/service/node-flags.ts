/**
 * The Node flags berth starts its own processes with: the services and gateway of
 * `berth run`, the images' CMD, and berth's side of bench/gateway.
 *
 * --max-semi-space-size=8: under load V8 doubles the young generation up to
 * 64 MB per semi-space and an idle process never collects to shrink it again, so a
 * gateway and a service held ~420 MB between them after one burst; with 8 MB they
 * peak at ~250 MB, with no measurable cost in throughput or CPU per request
 * (docs/benchmarks.md, "Where the memory goes"; 2 MB did cost throughput). It can
 * only be set at start-up: v8.setFlagsFromString has no effect once the heap exists.
 */
export const berthNodeFlags: readonly string[] = ['--max-semi-space-size=8'];
