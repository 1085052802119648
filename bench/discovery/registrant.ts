/**
 * Registers instances of `vessel` in a local registry folder, all from this one
 * process: every entry carries this pid, so they stay live (the registry's
 * liveness check is a signal-0 kill of the entry's pid) until this process
 * deregisters them or exits. One process stands in for N service processes, so
 * the follower does the same work per instance as with N: it reads N files per
 * scan and checks N entries' pids per tick, whether or not the pids repeat.
 *
 * Usage: node bench/discovery/registrant.ts <registry dir>
 */
import { randomBytes } from 'node:crypto';
import { framesMetadataKey } from '../../src/protocol/frames.ts';
import { LocalRegistry } from '../../src/registry/local-registry.ts';
import type { ServiceInstance } from '../../src/registry/registry.ts';
import {
  type FromRegistrant,
  hrtimeMs,
  protoService,
  serviceName,
  systemName,
  type ToRegistrant,
} from './protocol.ts';

const send = (message: FromRegistrant) => process.send!(message);
const registry = new LocalRegistry({ dir: process.argv[2] });
let registered: string[] = [];

/** What a berth vessel process registers (src/service/service.ts), port by port. */
function instance(index: number): ServiceInstance {
  const methods = ['VesselService.Create', 'VesselService.FindAvailable', 'VesselService.List'];
  return {
    id: `${serviceName}-${randomBytes(4).toString('hex')}`,
    name: serviceName,
    system: systemName,
    version: 'bench',
    address: `127.0.0.1:${20_000 + index}`,
    protoServices: [protoService],
    endpoints: methods,
    idempotentEndpoints: methods.slice(1),
    metadata: { pid: String(process.pid), [framesMetadataKey]: '1' },
  };
}

async function handle(message: ToRegistrant): Promise<void> {
  switch (message.type) {
    case 'register': {
      const instances = Array.from({ length: message.count }, (_, i) => instance(registered.length + i));
      await Promise.all(instances.map((one) => registry.register(one)));
      registered.push(...instances.map((one) => one.id));
      send({ type: 'done', atMs: hrtimeMs() });
      break;
    }
    case 'deregister':
      await Promise.all(registered.map((id) => registry.deregister(id)));
      registered = [];
      send({ type: 'done', atMs: hrtimeMs() });
      break;
    case 'stop':
      await registry.close();
      process.exit(0);
  }
}

process.on('message', (message: ToRegistrant) => {
  handle(message).catch((error: unknown) => send({ type: 'failed', message: String(error) }));
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
