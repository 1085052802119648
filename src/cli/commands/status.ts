import { gatewayAddress } from '../../kube/gateway-address.ts';
import { systemStatus } from '../../kube/operate.ts';
import type { Command } from '../command.ts';
import { renderTable } from '../format/table.ts';
import { connectCluster, kubeOptions, kubeOptionsHelp, loadTargetSystem } from '../kube-target.ts';

export const statusCommand: Command = {
  name: 'status',
  usage: `Usage: berth status [-f berth.yaml] --env <name> [--json]

${kubeOptionsHelp}
      --json              machine-readable output: { workloads, gateway: { url, note } }

Prints each workload's replicas, revision and tag, then a URL of the gateway
that works from this machine (LoadBalancer address, else a node's NodePort).`,
  options: { ...kubeOptions, json: { type: 'boolean', default: false } },
  async run({ values }, io) {
    const system = loadTargetSystem(values, io);
    const client = await connectCluster(values);
    try {
      const [statuses, gateway] = await Promise.all([
        systemStatus(client, system),
        gatewayAddress(client, system),
      ]);
      if (values.json) {
        io.stdout.write(`${JSON.stringify({ workloads: statuses, gateway }, null, 2)}\n`);
        return 0;
      }
      if (statuses.length === 0) {
        io.stdout.write(`nothing of ${system.system} is deployed in namespace ${system.namespace}\n`);
        return 1;
      }
      const header = ['NAME', 'DESIRED', 'READY', 'UPDATED', 'REVISION', 'TAG', 'STATE'];
      const rows = statuses.map((s) => [
        s.name,
        String(s.desired),
        String(s.ready),
        String(s.updated),
        s.kind === 'Deployment' ? String(s.revision) : '-',
        s.tag,
        s.state,
      ]);
      io.stdout.write(renderTable(header, rows));
      for (const s of statuses)
        if (s.ready < s.desired) io.stdout.write(`  ${s.name}: ${s.conditions.join(', ')}\n`);
      if (gateway) {
        io.stdout.write(`\ngateway: ${gateway.url ? `${gateway.url} (${gateway.note})` : gateway.note}\n`);
      }
      return statuses.every((s) => s.ready >= s.desired) ? 0 : 1;
    } finally {
      await client.close();
    }
  },
};
