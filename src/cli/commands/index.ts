import type { Command } from '../command.ts';
import { buildCommand } from './build.ts';
import { callCommand } from './call.ts';
import { canaryCommand } from './canary.ts';
import { deployCommand } from './deploy.ts';
import { gatewayCommand } from './gateway.ts';
import { healthCommand } from './health.ts';
import { listCommand } from './list.ts';
import { logsCommand } from './logs.ts';
import { manifestsCommand } from './manifests.ts';
import { rolloutCommand } from './rollout.ts';
import { runCommand } from './run.ts';
import { scaleCommand } from './scale.ts';
import { startCommand } from './start.ts';
import { statusCommand } from './status.ts';
import { stopCommand } from './stop.ts';

/** Every command `berth` knows, in the order `berth help` lists them. */
export const commands: readonly Command[] = [
  callCommand,
  listCommand,
  healthCommand,
  gatewayCommand,
  runCommand,
  logsCommand,
  stopCommand,
  startCommand,
  manifestsCommand,
  buildCommand,
  deployCommand,
  statusCommand,
  rolloutCommand,
  scaleCommand,
  canaryCommand,
];
