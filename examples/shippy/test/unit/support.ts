/**
 * Shared by the shippy unit tests: a berth Runtime for services built in this
 * process (on a MemoryRegistry), typed clients that call them the way other
 * services do, and the environment a service gets from `berth run`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DescService } from '@bufbuild/protobuf';
import type { Registry, Runtime, Service } from 'berth';
import { createTypedClient, RegistryCache, ServiceCaller, silentLogger, type TypedClient } from 'berth';
import type { Cleanup } from '../../../../test/support/cleanup.ts';

export { startPgliteServer } from '../../../../test/broker/pglite-server.ts';
export { fileCleanup } from '../../../../test/support/cleanup.ts';
export { waitFor } from '../../../../test/support/wait.ts';

/** A signing key for tests only (production keys come from JWT_SECRET(_FILE) or the data dir). */
export const testJwtSecret = 'test-only-secret-0123456789abcdefghijklmnop';

/** A fresh data dir (`BERTH_DATA_DIR`), removed by `cleanup`. */
export async function tempDataDir(cleanup: Cleanup): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'shippy-test-data-'));
  cleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** What `berth run` passes a service, for a database at `databaseUrl`. */
export function serviceEnv(databaseUrl: string, dataDir: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    // The test PGlite serves 16 connections in all; four services share them.
    DATABASE_POOL_MAX: '2',
    BERTH_DATA_DIR: dataDir,
    JWT_SECRET: testJwtSecret,
  };
}

export function testRuntime(registry: Registry, env: Record<string, string>): Runtime {
  return { env, registry, logger: silentLogger(), host: '127.0.0.1', port: 0, advertiseHost: undefined };
}

/** Builds a service with `build`, starts it, and stops it at cleanup. */
export async function startInProcess(
  build: (runtime: Runtime) => Promise<Service>,
  runtime: Runtime,
  cleanup: Cleanup,
): Promise<Service> {
  const service = await build(runtime);
  cleanup(() => service.stop());
  await service.start();
  return service;
}

export interface Clients {
  client<S extends DescService>(schema: S): TypedClient<S>;
}

/** Typed clients over `registry`, closed by `cleanup`. */
export async function clientsFor(registry: Registry, cleanup: Cleanup): Promise<Clients> {
  const cache = new RegistryCache(registry, silentLogger());
  await cache.start();
  const caller = new ServiceCaller({ cache });
  cleanup(async () => {
    await caller.close();
    await cache.close();
  });
  return { client: (schema) => createTypedClient(caller, schema) };
}

export function bearer(token: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${token}` } };
}
