/**
 * Events for the services that use them (`uses: [nats]` in berth.yaml): NATS
 * JetStream when NATS_URL is set, else berth's direct broker, which finds
 * subscribers in the registry and remembers durable queue groups under
 * `<data dir>/broker`. Either way the service code sees one Broker.
 */
import { join } from 'node:path';
import type { Runtime, Service } from 'berth';
import type { Broker } from 'berth/broker';
import { z } from 'zod';
import { system } from './settings.ts';

/** The settings of a service that uses a broker (spread them into its schema). */
export const brokerSettings = {
  // An empty NATS_URL counts as unset, as with most tools.
  natsUrl: z.preprocess(
    (value) => (value === '' ? undefined : value),
    z
      .string()
      .regex(/^(nats|tls|wss?):\/\//, { error: 'expected a nats:// URL' })
      .optional(),
  ),
  /** Local state shared by the system's processes; `berth run` sets BERTH_DATA_DIR. */
  berthDataDir: z.string().min(1).default('.berth/data'),
};

export type BrokerSettings = z.output<z.ZodObject<typeof brokerSettings>>;

/** The service's broker, closed when the service stops. */
export async function openBroker(
  service: Service,
  runtime: Runtime,
  settings: BrokerSettings,
): Promise<Broker> {
  // Each broker is loaded only when chosen: the NATS client is large.
  let broker: Broker;
  if (settings.natsUrl) {
    const { NatsBroker } = await import('berth/broker/nats');
    const nats = await NatsBroker.connect({
      servers: settings.natsUrl,
      name: service.instanceId,
      logger: service.logger,
      stream: system,
      subjectPrefix: system,
    });
    service.checkReady('broker', (signal) => nats.check(signal));
    broker = nats;
  } else {
    const { DirectBroker } = await import('berth/broker/direct');
    broker = await DirectBroker.start({
      registry: runtime.registry,
      logger: service.logger,
      host: runtime.host,
      advertiseHost: runtime.advertiseHost,
      system,
      owner: service.name,
      stateDir: join(settings.berthDataDir, 'broker'),
      token: runtime.brokerToken,
    });
  }
  service.onClose(() => broker.close());
  return broker;
}
