/** `berth start`: start services of a locally running system again. */
import { sendControl } from '../../runner/control.ts';
import { findRunningSystem } from '../../runner/state.ts';
import { type Command, UsageError } from '../command.ts';

export const startCommand: Command = {
  name: 'start',
  usage: `Usage: berth start <service ...>

Starts the named services of the system "berth run" is running (after "berth stop",
or left out by "berth run --only"), or its gateway or embedded postgres, and what
they depend on if it is not running; returns once they are ready.`,
  async run({ positionals }, io) {
    if (positionals.length === 0) throw new UsageError('name the services to start');
    const state = findRunningSystem({ cwd: io.cwd, env: io.env });
    if (!state) throw new Error('no system is running here (start one with "berth run")');
    io.stdout.write(`starting ${positionals.join(', ')} (waiting until ready)…\n`);
    await sendControl(state, 'start', positionals, io.signal);
    io.stdout.write(`started ${positionals.join(', ')}\n`);
    return 0;
  },
};
