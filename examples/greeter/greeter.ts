/**
 * The greeter of the original Micro-on-Kubernetes document: one method, Say.Hello.
 * `delay_ms` lets tests make it slow, to exercise deadlines and draining.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { runMain, Service } from 'berth';
import { Say } from './gen/greeter/v1/greeter_pb.js';

await runMain((runtime) => {
  const service = new Service({
    name: 'greeter',
    system: 'examples',
    version: '1.0.0',
    registry: runtime.registry,
    logger: runtime.logger,
    host: runtime.host,
    port: runtime.port,
    advertiseHost: runtime.advertiseHost,
  });
  return service.handle(Say, {
    async hello(request, context) {
      if (request.delayMs > 0) await sleep(request.delayMs, undefined, { signal: context.signal });
      return { greeting: `Hello ${request.name}`, instanceId: service.instanceId };
    },
  });
});
