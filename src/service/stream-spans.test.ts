/**
 * The SERVER span of a streamed call, with the real SDK exporting to memory: it
 * ends with the response stream (not when the handler returns its generator),
 * counts the messages each way, is ERROR when the stream fails, and ends when the
 * client goes away; the handler's work between messages runs inside it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:http2';
import { after, before, test } from 'node:test';
import { createClient } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { waitFor } from '../../test/support/wait.ts';
import { Code, ConnectError } from '../errors/berth-error.ts';
import { MemoryRegistry } from '../registry/memory-registry.ts';
import { registerTracing, type Tracing } from '../telemetry/sdk.ts';
import { Countdown } from './fixtures/gen/countdown/v1/countdown_pb.js';
import { Service } from './service.ts';

const exporter = new InMemorySpanExporter();
let tracing: Tracing;
before(() => {
  tracing = registerTracing({ serviceName: 'test', exporters: [exporter], processing: 'simple' });
});
after(() => tracing.shutdown());

/** A promise and the function that resolves it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

/**
 * A Countdown service and a gRPC client of it. Count waits for `finish` after its
 * last message, and forever for `from` 0 (until the test ends); `activeSpans` are
 * the span ids active in the handler after each await.
 */
async function countdown(t: { after(fn: () => Promise<void>): void }) {
  const finish = gate();
  const hang = gate();
  const activeSpans: (string | undefined)[] = [];
  const service = new Service({ name: 'countdown', registry: new MemoryRegistry(), deregisterDelayMs: 0 });
  service.handle(Countdown, {
    async *count(request) {
      if (request.from === 0) {
        yield { value: 0 };
        await hang.opened;
      }
      for (let value = request.from; value > 0; value--) {
        await new Promise((resolve) => setImmediate(resolve));
        activeSpans.push(trace.getActiveSpan()?.spanContext().spanId);
        if (request.from - value === request.failAfter && request.failAfter > 0) {
          throw new ConnectError('the counter broke', Code.Internal);
        }
        yield { value };
      }
      await finish.opened;
    },
    async *double(messages) {
      for await (const message of messages) yield { value: message.value * 2 };
    },
  });
  const instance = await service.start();
  t.after(async () => {
    finish.open();
    hang.open();
    await service.stop();
  });
  const client = createClient(Countdown, createGrpcTransport({ baseUrl: `http://${instance.address}` }));
  return { client, finish, activeSpans, address: instance.address };
}

const finished = (name: string) =>
  exporter.getFinishedSpans().find((span) => span.kind === SpanKind.SERVER && span.name === name);

function spanNamed(name: string): Promise<ReadableSpan> {
  return waitFor(() => finished(name), { what: `the span ${name}` });
}

test('a server stream’s span ends after its last message, counting them; the handler runs inside it', async (t) => {
  exporter.reset();
  const { client, finish, activeSpans } = await countdown(t);
  const values: number[] = [];
  for await (const message of client.count({ from: 3 })) {
    values.push(message.value);
    if (values.length === 3) {
      assert.equal(finished('countdown.v1.Countdown/Count'), undefined, 'not ended while the stream is open');
      finish.open();
    }
  }
  assert.deepEqual(values, [3, 2, 1]);
  const span = await spanNamed('countdown.v1.Countdown/Count');
  assert.equal(span.attributes['berth.rpc.messages_sent'], 3);
  assert.equal(span.attributes['berth.rpc.messages_received'], 1);
  assert.equal(span.attributes['rpc.grpc.status_code'], 0);
  assert.equal(span.status.code, SpanStatusCode.UNSET);
  assert.deepEqual(
    activeSpans,
    [1, 2, 3].map(() => span.spanContext().spanId),
  );
});

test('a stream that fails mid-way is an ERROR span with its code and the messages sent before', async (t) => {
  exporter.reset();
  const { client } = await countdown(t);
  const values: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const message of client.count({ from: 5, failAfter: 2 })) values.push(message.value);
    })(),
    (error: unknown) => error instanceof ConnectError && error.code === Code.Internal,
  );
  assert.deepEqual(values, [5, 4]);
  const span = await spanNamed('countdown.v1.Countdown/Count');
  assert.equal(span.status.code, SpanStatusCode.ERROR);
  assert.equal(span.status.message, 'the counter broke');
  assert.equal(span.attributes['rpc.grpc.status_code'], Code.Internal);
  assert.equal(span.attributes['berth.rpc.messages_sent'], 2);
});

test('a bidi stream counts the messages received and sent', async (t) => {
  exporter.reset();
  const { client } = await countdown(t);
  async function* three() {
    for (const value of [1, 2, 3]) yield { value };
  }
  const values: number[] = [];
  for await (const message of client.double(three())) values.push(message.value);
  assert.deepEqual(values, [2, 4, 6]);
  const span = await spanNamed('countdown.v1.Countdown/Double');
  assert.equal(span.attributes['berth.rpc.messages_received'], 3);
  assert.equal(span.attributes['berth.rpc.messages_sent'], 3);
  assert.equal(span.status.code, SpanStatusCode.UNSET);
});

test('a stream whose client goes away ends cancelled, not as the server’s error', async (t) => {
  exporter.reset();
  const { client } = await countdown(t);
  const abort = new AbortController();
  await assert.rejects(
    (async () => {
      for await (const _ of client.count({ from: 0 }, { signal: abort.signal })) abort.abort();
    })(),
    (error: unknown) => ConnectError.from(error).code === Code.Canceled,
  );
  const span = await spanNamed('countdown.v1.Countdown/Count');
  assert.equal(span.attributes['rpc.grpc.status_code'], Code.Canceled);
  assert.equal(span.attributes['berth.rpc.messages_sent'], 1);
  assert.equal(span.status.code, SpanStatusCode.UNSET);
});

test('a stream past its deadline ends DEADLINE_EXCEEDED, an ERROR span, while its handler still runs', async (t) => {
  exporter.reset();
  const { address } = await countdown(t);
  // Raw gRPC: connect's client would also end the call at the deadline, racing the server's own timer.
  const session = connect(`http://${address}`);
  t.after(() => session.destroy());
  const call = session.request({
    ':method': 'POST',
    ':path': '/countdown.v1.Countdown/Count',
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': '100m',
  });
  call.end(Buffer.alloc(5)); // one message, uncompressed and empty: CountRequest{from: 0}, which hangs
  call.resume();
  const span = await spanNamed('countdown.v1.Countdown/Count');
  assert.equal(span.attributes['rpc.grpc.status_code'], Code.DeadlineExceeded);
  assert.equal(span.status.code, SpanStatusCode.ERROR);
});
