/**
 * A real streaming service behind a real gateway, for the API explorer's streaming
 * calls: `countdown` serves countdown.v1.Countdown (src/service/fixtures), whose
 * Count sends from, from-1, …, 1 (fails with `internal` after `failAfter` messages;
 * for `from` 0 sends one message and then holds the stream open until the test
 * releases it or the caller cancels), and Double answers each message doubled; and tally.v1.Tally, whose client stream Sum
 * answers `{total}`, the sum of its requests' `value`s. The runtime shows the
 * dashboard the service and the gateway as ready.
 */
import { fromJson, type JsonObject, toJson } from '@bufbuild/protobuf';
import type { GenService } from '@bufbuild/protobuf/codegenv2';
import { StructSchema } from '@bufbuild/protobuf/wkt';
import type { DashboardRuntime } from '../../../src/dashboard/dashboard-server.ts';
import { structMethod } from '../../../src/dashboard/stream-call.ts';
import { Code, ConnectError } from '../../../src/errors/berth-error.ts';
import { Gateway, type GatewayOptions } from '../../../src/gateway/gateway.ts';
import { MemoryRegistry } from '../../../src/registry/memory-registry.ts';
import type { ProcessState } from '../../../src/runner/state.ts';
import { Countdown } from '../../../src/service/fixtures/gen/countdown/v1/countdown_pb.js';
import { Service } from '../../../src/service/service.ts';
import type { Cleanup } from '../../support/cleanup.ts';

export interface CountdownSystem {
  readonly runtime: DashboardRuntime;
  /** The deadline each Count call had (from `connect-timeout-ms`), as the service saw it. */
  readonly deadlines: (number | undefined)[];
  /** Ends (ok) each Count `{from: 0}` held open after its message. */
  releaseHeld(): void;
  /** How many Count `{from: 0}` calls the service saw cancelled by their caller while held. */
  cancelledCount(): number;
}

export async function startCountdownSystem(
  cleanup: Cleanup,
  gatewayOptions: Partial<GatewayOptions> = {},
): Promise<CountdownSystem> {
  const registry = new MemoryRegistry();
  const held = new Set<() => void>();
  const releaseHeld = () => {
    for (const release of held) release();
    held.clear();
  };
  let cancelled = 0;
  const deadlines: CountdownSystem['deadlines'] = [];
  const service = new Service({ name: 'countdown', registry, deregisterDelayMs: 0 }).handle(Countdown, {
    async *count(request, context) {
      deadlines.push(context.timeoutMs());
      if (request.from === 0) {
        // Held before the message goes out, so a test that has read it can release it.
        const released = new Promise<'released'>((resolve) => held.add(() => resolve('released')));
        yield { value: 0 };
        const aborted = new Promise<'cancelled'>((resolve) => {
          if (context.signal.aborted) resolve('cancelled');
          context.signal.addEventListener('abort', () => resolve('cancelled'));
        });
        if ((await Promise.race([released, aborted])) === 'cancelled') cancelled++;
        return;
      }
      for (let value = request.from; value > 0; value--) {
        if (request.from - value === request.failAfter && request.failAfter > 0) {
          throw new ConnectError('the counter broke', Code.Internal);
        }
        yield { value };
      }
    },
    async *double(messages) {
      for await (const message of messages) yield { value: message.value * 2 };
    },
  });
  // No generated code has a client stream: Tally is declared as the explorer sees any
  // method, with Structs (which the service side of Connect reads on its own).
  const tally = structMethod('tally.v1.Tally', 'Sum', 'client_streaming').parent as GenService<{
    sum: { methodKind: 'client_streaming'; input: typeof StructSchema; output: typeof StructSchema };
  }>;
  service.handle(tally, {
    async sum(messages) {
      let total = 0;
      for await (const message of messages)
        total += Number((toJson(StructSchema, message) as JsonObject).value ?? 0);
      return fromJson(StructSchema, { total });
    },
  });
  const instance = await service.start();
  const gateway = new Gateway({ registry, port: 0, ...gatewayOptions });
  const { port } = await gateway.start();
  cleanup(async () => {
    releaseHeld();
    await gateway.stop(0);
    await service.stop();
  });
  const process: ProcessState = {
    instance: 'countdown-1',
    service: 'countdown',
    kind: 'service',
    pid: 4242,
    address: instance.address,
    status: 'ready',
    startedAt: undefined,
    readyAt: undefined,
    restarts: 0,
    reloads: 0,
    logFile: '/dev/null',
  };
  return {
    deadlines,
    releaseHeld,
    cancelledCount: () => cancelled,
    runtime: {
      system: 'testsys',
      environment: 'dev',
      processes: () => [process],
      stop: async () => {},
      start: async () => {},
      gateway: () => `http://127.0.0.1:${port}`,
      databases: () => new Map(),
      broker: () => ({ kind: 'direct' }),
    },
  };
}
