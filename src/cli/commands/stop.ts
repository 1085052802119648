/** `berth stop`: stop services of a locally running system, or all of it. */
import { sendControl } from '../../runner/control.ts';
import { findRunningSystem } from '../../runner/state.ts';
import type { Command } from '../command.ts';

export const stopCommand: Command = {
  name: 'stop',
  usage: `Usage: berth stop [service ...]

Stops every instance of the named services of the system "berth run" is running
(the one of this folder, else the only one running; BERTH_DATA_DIR picks another).
The gateway and the embedded postgres are stopped by name too ("berth stop
postgres": the services using it stay up and see errors, as with docker compose).
They stay stopped, not restarted, until "berth start <service>". Without a
service, the whole system stops and "berth run" exits.`,
  async run({ positionals }, io) {
    const state = findRunningSystem({ cwd: io.cwd, env: io.env });
    if (!state) throw new Error('no system is running here (start one with "berth run")');
    await sendControl(state, 'stop', positionals, io.signal);
    io.stdout.write(
      positionals.length > 0 ? `stopped ${positionals.join(', ')}\n` : `stopping ${state.system}\n`,
    );
    return 0;
  },
};
