/**
 * A stand-in instance for gateway tests: a plain node:http server on 127.0.0.1,
 * registered in a registry, that records what reaches it and answers as the test
 * says. It shows what the gateway sends on and what it makes of odd answers,
 * which a real berth service would never give.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry, ServiceInstance } from '../../src/registry/registry.ts';
import type { Cleanup } from '../support/cleanup.ts';

export interface Received {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export type Answer = (received: Received, res: ServerResponse) => void;

export interface FakeInstance {
  readonly instance: ServiceInstance;
  readonly received: Received[];
  /** How it answers the next requests; 200 `{}` until set. */
  answer: Answer;
}

/** A listening server, closed by `cleanup`; `onRequest` gets each request once its body has arrived. */
export async function listenFake(
  cleanup: Cleanup,
  onRequest: (received: Received, res: ServerResponse) => void,
) {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () =>
      onRequest(
        { path: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') },
        res,
      ),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function registerFake(
  registry: Registry,
  cleanup: Cleanup,
  fields: Partial<ServiceInstance> & Pick<ServiceInstance, 'name'>,
): Promise<FakeInstance> {
  const address = await listenFake(cleanup, (received, res) => {
    fake.received.push(received);
    fake.answer(received, res);
  });
  const instance: ServiceInstance = {
    id: `${fields.name}-${address}`,
    version: '1',
    address,
    protoServices: [],
    metadata: {},
    ...fields,
  };
  const fake: FakeInstance = {
    instance,
    received: [],
    answer: (_received, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    },
  };
  await registry.register(instance);
  return fake;
}
