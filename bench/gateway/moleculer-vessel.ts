/**
 * Target (d), service side: the vessel service on Moleculer, reached over
 * Moleculer's TCP transporter. UDP discovery is off (it multicasts beyond this
 * machine); the gateway node is given this node's address instead, and both
 * nodes advertise 127.0.0.1 so that every connection stays on loopback.
 */
import { Errors, ServiceBroker } from 'moleculer';
import { listeningLine, onTerminate } from './child.ts';
import { loopbackOnly } from './moleculer-node.ts';
import { findAvailable, vesselJson } from './vessels.ts';

const broker = new ServiceBroker({
  nodeID: 'vessel-node',
  logger: { type: 'Console', options: { level: 'warn' } },
  transporter: { type: 'TCP', options: { udpDiscovery: false, port: 0 } },
});
loopbackOnly(broker);
broker.createService({
  name: 'vessel',
  actions: {
    findAvailable(ctx) {
      const spec = ctx.params as { capacity?: number; max_weight?: number };
      const vessel = findAvailable(spec.capacity ?? 0, spec.max_weight ?? 0);
      if (!vessel) throw new Errors.MoleculerClientError('no vessel available', 404, 'NOT_FOUND');
      return { vessel: vesselJson(vessel) };
    },
  },
});
await broker.start();
listeningLine({ address: '127.0.0.1', port: transporterPort(broker), family: 'IPv4' });
onTerminate(() => broker.stop());

function transporterPort(b: ServiceBroker): number {
  const transporter = b.transit?.tx as unknown as { opts: { port: number | null } } | undefined;
  const port = transporter?.opts.port;
  if (!port) throw new Error('the TCP transporter did not report its port');
  return port;
}
