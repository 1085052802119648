/**
 * The tracing a process runs, or undefined: set once at startup (tracing.ts) and
 * read by the hot paths, so that with tracing off a call costs one check of this
 * binding and nothing of OpenTelemetry is loaded.
 */
import type { RpcTracing } from './rpc-tracing.ts';

export let activeTracing: RpcTracing | undefined;

export function setActiveTracing(tracing: RpcTracing | undefined): void {
  activeTracing = tracing;
}
