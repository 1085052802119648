/**
 * Health of one service process, answered three ways from the same state:
 *  - `GET /healthz`: alive (the process answers at all) — Kubernetes liveness;
 *  - `GET /readyz`: ready (registered, not draining, every dependency check passes)
 *    — Kubernetes readiness and the local runner's "ready" signal;
 *  - `grpc.health.v1.Health` Check and Watch, for gRPC tooling (grpc_health_probe).
 */
import type { ServiceImpl } from '@connectrpc/connect';
import { Code, ConnectError } from '../errors/berth-error.ts';
import {
  type Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '../gen/grpc/health/v1/health_pb.js';

export type ReadinessCheck = (signal: AbortSignal) => Promise<void>;

export interface Readiness {
  readonly ready: boolean;
  /** `ok` or the reason, per check, plus `serving`. */
  readonly checks: Record<string, string>;
}

export class HealthState {
  readonly #names: Set<string>;
  readonly #checks = new Map<string, ReadinessCheck>();
  readonly #checkTimeoutMs: number;
  #serving = false;
  #changed = new Set<() => void>();

  /** `names`: what a Check request may ask about besides "" (service and proto service names). */
  constructor(names: Iterable<string>, options: { checkTimeoutMs?: number } = {}) {
    this.#names = new Set(names);
    this.#checkTimeoutMs = options.checkTimeoutMs ?? 2_000;
  }

  addName(name: string): void {
    this.#names.add(name);
  }

  addCheck(name: string, check: ReadinessCheck): void {
    this.#checks.set(name, check);
  }

  get serving(): boolean {
    return this.#serving;
  }

  setServing(serving: boolean): void {
    if (this.#serving === serving) return;
    this.#serving = serving;
    for (const listener of this.#changed) listener();
  }

  async readiness(): Promise<Readiness> {
    const checks: Record<string, string> = { serving: this.#serving ? 'ok' : 'not serving' };
    await Promise.all(
      [...this.#checks].map(async ([name, check]) => {
        try {
          await check(AbortSignal.timeout(this.#checkTimeoutMs));
          checks[name] = 'ok';
        } catch (error) {
          // A ConnectError's own text, without the `[code]` prefix of its message.
          checks[name] =
            (error instanceof ConnectError ? error.rawMessage : (error as Error)?.message) || String(error);
        }
      }),
    );
    return { ready: Object.values(checks).every((value) => value === 'ok'), checks };
  }

  grpcService(): ServiceImpl<typeof Health> {
    const status = async (service: string) => {
      if (service !== '' && !this.#names.has(service)) {
        throw new ConnectError(`unknown service "${service}"`, Code.NotFound);
      }
      return (await this.readiness()).ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
    };
    const changes = this.#changed;
    return {
      async check(request) {
        return { status: await status(request.service) };
      },
      async *watch(request, context) {
        let last: ServingStatus | undefined;
        while (!context.signal.aborted) {
          const current = await status(request.service);
          if (current !== last) {
            last = current;
            yield { status: current };
          }
          // Wake on a serving change, or re-check dependencies every second.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, 1_000);
            function done() {
              clearTimeout(timer);
              changes.delete(done);
              context.signal.removeEventListener('abort', done);
              resolve();
            }
            changes.add(done);
            context.signal.addEventListener('abort', done);
          });
        }
      },
    };
  }
}
