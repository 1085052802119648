import type { Command } from '../command.ts';

/**
 * Every command `berth` knows, in the order `berth help` lists them. Each loads
 * only when used, so `berth call` does not pay for the runner's or the Kubernetes
 * client's imports.
 */
export const commands: ReadonlyArray<readonly [name: string, load: () => Promise<Command>]> = [
  ['call', async () => (await import('./call.ts')).callCommand],
  ['list', async () => (await import('./list.ts')).listCommand],
  ['health', async () => (await import('./health.ts')).healthCommand],
  ['gateway', async () => (await import('./gateway.ts')).gatewayCommand],
  ['run', async () => (await import('./run.ts')).runCommand],
  ['logs', async () => (await import('./logs.ts')).logsCommand],
  ['stop', async () => (await import('./stop.ts')).stopCommand],
  ['start', async () => (await import('./start.ts')).startCommand],
  ['manifests', async () => (await import('./manifests.ts')).manifestsCommand],
  ['build', async () => (await import('./build.ts')).buildCommand],
  ['deploy', async () => (await import('./deploy.ts')).deployCommand],
  ['status', async () => (await import('./status.ts')).statusCommand],
  ['rollout', async () => (await import('./rollout.ts')).rolloutCommand],
  ['scale', async () => (await import('./scale.ts')).scaleCommand],
  ['canary', async () => (await import('./canary.ts')).canaryCommand],
];
