/**
 * A gateway that does not trace (no OpenTelemetry registered in this process)
 * relays no trace context a client sent, on any forwarding path, unless it is
 * told to trust its clients: otherwise a client would pick the trace ids and the
 * sampling decision of the services behind it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { Say } from '../../examples/greeter/gen/greeter/v1/greeter_pb.js';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { Service } from '../service/service.ts';
import { Gateway } from './gateway.ts';

const traceContext = {
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'vendor=client',
  baggage: 'user=client',
};

/** A gateway before `back`, whose greeting is the trace context headers it received. */
async function system(t: { after(fn: () => Promise<void>): void }, trustTraceparent: boolean) {
  const registry = new MemoryRegistry();
  const back = new Service({ name: 'back', registry, deregisterDelayMs: 0 }).handle(Say, {
    hello(_request, context) {
      const seen = Object.keys(traceContext).map(
        (name) => `${name}=${context.requestHeader.get(name) ?? '-'}`,
      );
      return { greeting: seen.join(' ') };
    },
  });
  await back.start();
  const gateway = new Gateway({ registry, port: 0, trustTraceparent });
  const { port } = await gateway.start();
  t.after(async () => {
    await gateway.stop(0);
    await back.stop();
  });
  return `http://127.0.0.1:${port}`;
}

/** What the instance received on each of the gateway's forwarding paths. */
async function greetings(url: string): Promise<Record<string, string>> {
  const rpc = await fetch(`${url}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...traceContext },
    body: JSON.stringify({ service: 'back', method: 'Say.Hello', request: { name: 'Ewan' } }),
  });
  assert.equal(rpc.status, 200);
  const connect = createClient(Say, createConnectTransport({ baseUrl: url, httpVersion: '1.1' }));
  const grpc = createClient(Say, createGrpcTransport({ baseUrl: url }));
  return {
    rpc: ((await rpc.json()) as { greeting: string }).greeting,
    connect: (await connect.hello({ name: 'Ewan' }, { headers: traceContext })).greeting,
    grpc: (await grpc.hello({ name: 'Ewan' }, { headers: traceContext })).greeting,
  };
}

test('untrusted by default: no path relays the client’s traceparent, tracestate or baggage', async (t) => {
  const none = 'traceparent=- tracestate=- baggage=-';
  assert.deepEqual(await greetings(await system(t, false)), { rpc: none, connect: none, grpc: none });
});

test('trusted (behind a proxy that sets them), every path relays them as sent', async (t) => {
  const sent = Object.entries(traceContext)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
  assert.deepEqual(await greetings(await system(t, true)), { rpc: sent, connect: sent, grpc: sent });
});
