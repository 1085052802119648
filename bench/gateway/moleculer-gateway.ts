/**
 * Target (d), gateway side: moleculer-web in its own Moleculer node, connected to
 * the vessel node (VESSEL_NODE=host:port of its TCP transporter). The route is
 * moleculer-web's idiomatic action alias with the Specification as the body: no
 * `/rpc` envelope to unwrap, which if anything favours Moleculer.
 */
import type { Server } from 'node:http';
import { ServiceBroker } from 'moleculer';
import ApiGateway from 'moleculer-web';
import { listeningLine, onTerminate, requiredEnv } from './child.ts';
import { loopbackOnly } from './moleculer-node.ts';

const broker = new ServiceBroker({
  nodeID: 'gateway-node',
  logger: { type: 'Console', options: { level: 'warn' } },
  transporter: {
    type: 'TCP',
    options: { udpDiscovery: false, port: 0, urls: `${requiredEnv('VESSEL_NODE')}/vessel-node` },
  },
});
loopbackOnly(broker);
broker.createService({
  name: 'api',
  mixins: [ApiGateway],
  settings: {
    ip: '127.0.0.1',
    port: 0,
    routes: [
      {
        path: '/',
        mappingPolicy: 'restrict',
        aliases: { 'POST /vessel/findAvailable': 'vessel.findAvailable' },
        bodyParsers: { json: true },
      },
    ],
  },
});
await broker.start();
await broker.waitForServices(['vessel'], 10_000);
const api = broker.getLocalService('api') as unknown as { server: Server };
listeningLine(api.server.address());
onTerminate(() => broker.stop());
