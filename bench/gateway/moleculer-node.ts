import type { ServiceBroker } from 'moleculer';

/**
 * Makes the local node advertise 127.0.0.1 rather than the machine's hostname and
 * interface addresses, so the TCP transporter's peers connect over loopback only.
 */
export function loopbackOnly(broker: ServiceBroker): void {
  const local = (
    broker.registry as unknown as { nodes: { localNode: { ipList: string[]; hostname: string } } }
  ).nodes.localNode;
  local.ipList = ['127.0.0.1'];
  local.hostname = '127.0.0.1';
}
