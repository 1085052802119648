/**
 * The Node flags berth starts its own processes with. They can only be set at
 * start-up (v8.setFlagsFromString has no effect once the heap exists), so whatever
 * starts a process passes them. Measurements: docs/benchmarks.md ("Where the memory
 * goes") and docs/footprint.md.
 */

/**
 * Services and gateway in the images' CMD and berth's side of bench/gateway.
 *
 * --max-semi-space-size=8: under load V8 doubles the young generation up to
 * 64 MB per semi-space and an idle process never collects to shrink it again, so a
 * gateway and a service held ~420 MB between them after one burst; with 8 MB they
 * peak at ~250 MB, with no measurable cost in throughput or CPU per request.
 */
export const berthNodeFlags: readonly string[] = ['--max-semi-space-size=8'];

/**
 * Services and gateway of `berth run`, where a whole system shares one machine and
 * mostly waits. Starting up fills the young generation to its cap, and an idle
 * process keeps those pages: 14 MB of each process's RSS with 8 MB semi-spaces,
 * 3–4 MB with 2 MB ones (shippy: 607 → 556–561 MB in all). Under bench/gateway's load
 * 2 MB cost ~5 % more CPU per request and no measurable throughput; the images keep 8.
 */
export const runNodeFlags: readonly string[] = ['--max-semi-space-size=2'];

/**
 * The embedded Postgres of `berth run` (src/runner/pglite-server.ts): the young
 * generation as above, and
 * --liftoff-only: V8 first compiles PGlite's 9 MB of WebAssembly with its baseline
 * compiler (Liftoff), then recompiles the hot functions with TurboFan in the background;
 * Postgres's biggest functions take TurboFan ~500 MB of compiler memory, so the process
 * peaked at 740–860 MB and still held 300–450 MB seconds after start. Baseline code
 * only: no such peak, ready sooner (no compiler competing for the CPU), and simple
 * queries ~20 % slower than once TurboFan would have finished.
 */
export const pgliteNodeFlags: readonly string[] = [...runNodeFlags, '--liftoff-only'];
