import type { Command } from '../command.ts';

/** Every command `berth` knows, in the order `berth help` lists them. */
export const commands: readonly Command[] = [];
