/**
 * `node bench/tracing/span-cost.ts`: CPU per span of berth's SERVER span
 * (rpc-tracing.ts: extract `traceparent` → start with the method's attributes →
 * run inside it → inject → end) through the SDK as sdk.ts registers it, for each
 * way of processing the ended span:
 *
 *   drop           BatchSpanProcessor + an exporter that drops each batch: span and batching, no export
 *   otlp-proto     BatchSpanProcessor + OTLP/HTTP protobuf to otlp-sink.ts (its own process)
 *   otlp-json      BatchSpanProcessor + OTLP/HTTP JSON to the same sink
 *
 * Each case runs in a fresh child process (so one case's garbage and JIT state do
 * not bill another), warms up, then reports this process's CPU time (user + system,
 * GC included) per span, over BENCH_SPANS spans (200,000), after the last export.
 * The SDK's own variables apply (OTEL_TRACES_SAMPLER=always_off: unsampled spans;
 * OTEL_BSP_*: the batch processor).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { droppingExporter } from '../gateway/dropped-spans.ts';
import { ServerProcess } from '../gateway/processes.ts';

type Case = 'drop' | 'otlp-proto' | 'otlp-json';
const cases: readonly Case[] = ['drop', 'otlp-proto', 'otlp-json'];
const spans = Number(process.env.BENCH_SPANS ?? 200_000);
const self = fileURLToPath(import.meta.url);

async function measure(kind: Case, endpoint: string): Promise<number> {
  const { registerTracing } = await import('../../src/telemetry/sdk.ts');
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
  const exporter: SpanExporter =
    kind === 'otlp-proto'
      ? new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter()
      : kind === 'otlp-json'
        ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
        : droppingExporter;
  const tracing = registerTracing({ serviceName: 'bench', exporters: [exporter] });
  const rpc = (await import('../../src/telemetry/active.ts')).activeTracing!;
  const attributes = {
    'rpc.system': 'connect_rpc',
    'rpc.service': 'shippy.vessel.v1.VesselService',
    'rpc.method': 'FindAvailable',
  };
  const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
  const work = () => 1;
  const one = () => {
    const span = rpc.server('shippy.vessel.v1.VesselService/FindAvailable', headers, attributes);
    span.run(work);
    span.inject({});
    span.endRpc();
  };
  // In slices, yielding between them as a server does, so the batch processor's timer and exports run.
  const run = async (count: number) => {
    for (let done = 0; done < count; done += 500) {
      for (let i = 0; i < 500; i++) one();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await run(20_000);
  const before = process.cpuUsage();
  await run(spans);
  await tracing.shutdown();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / spans;
}

if (process.argv[2] === 'case') {
  const us = await measure(process.argv[3] as Case, process.argv[4]);
  process.stdout.write(`${JSON.stringify({ us })}\n`);
} else {
  const sink = new ServerProcess('OTLP sink', spawnSink());
  const address = await sink.listening(10_000);
  try {
    for (const kind of cases) {
      const child = spawn(process.execPath, [self, 'case', kind, `http://${address}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (chunk) => (out += chunk));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      if (code !== 0) throw new Error(`case ${kind} exited with ${code} (its error is above)`);
      const { us } = JSON.parse(out) as { us: number };
      process.stdout.write(`${kind.padEnd(11)} ${us.toFixed(1)} µs CPU per span\n`);
    }
  } finally {
    await sink.stop();
  }
}

function spawnSink() {
  return spawn(process.execPath, [fileURLToPath(new URL('../gateway/otlp-sink.ts', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
