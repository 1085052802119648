/**
 * Targets (c), (f), (g), (h) and (i): berth's Gateway in its own process, finding the vessel
 * service in the local registry (BERTH_REGISTRY_DIR) as `berth run` would, and
 * tracing when OTEL_* say so (g), as the gateway's main.ts does.
 */
import { Gateway } from '../../src/gateway/gateway.ts';
import { runtimeFromEnv } from '../../src/service/run-main.ts';
import { startTracing } from '../../src/telemetry/tracing.ts';
import { onTerminate } from './child.ts';
import { dropSpansWhenAsked } from './dropped-spans.ts';

// `await`: runtimeFromEnv is becoming async (it may load the Kubernetes registry).
const runtime = await runtimeFromEnv();
const dropping = await dropSpansWhenAsked('gateway');
const tracing = await startTracing(process.env, { serviceName: 'gateway' });
const gateway = new Gateway({
  registry: runtime.registry,
  logger: runtime.logger,
  host: runtime.host,
  port: runtime.port,
  knownServices: ['vessel'],
});
await gateway.start();
onTerminate(async () => {
  await gateway.stop();
  await runtime.registry.close();
  await tracing.shutdown();
  await dropping?.shutdown();
});
