import { createServer } from 'node:net';
import type { ServiceInstance } from '../../src/registry/registry.ts';

/** Instance records for unit tests: `svc-0`, `svc-1`... of service `name` (nothing listens there). */
export function fakeInstances(count: number, name = 'svc'): ServiceInstance[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${name}-${i}`,
    name,
    version: '1',
    address: `127.0.0.1:${10_000 + i}`,
    protoServices: [`pkg.${name}`],
    metadata: {},
  }));
}

/** `127.0.0.1:<port>` where nothing listens any more: connections to it are refused. */
export async function refusingAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `127.0.0.1:${port}`;
}
