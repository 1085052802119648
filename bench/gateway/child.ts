/** What every benchmark server process shares: how it says where it listens and how it stops. */
import type { AddressInfo } from 'node:net';

/** The line run.ts waits for: `{"msg":"listening","address":"127.0.0.1:1234"}`. */
export function listeningLine(address: AddressInfo | string | null): void {
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  process.stdout.write(
    `${JSON.stringify({ msg: 'listening', address: `${address.address}:${address.port}` })}\n`,
  );
}

/** Runs `stop` on SIGTERM/SIGINT, then exits; a second signal exits at once. */
export function onTerminate(stop: () => Promise<unknown> | unknown): void {
  let stopping = false;
  const handler = () => {
    if (stopping) process.exit(1);
    stopping = true;
    Promise.resolve()
      .then(stop)
      .then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(`stop failed: ${String(error)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** A required environment variable, or a clear failure. */
export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set (run.ts sets it)`);
  return value;
}
