import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderManifests, toYaml } from '../../kube/manifests.ts';
import type { Command } from '../command.ts';
import { loadTargetRelease, releaseOptions, releaseOptionsHelp } from '../kube-target.ts';

export const manifestsCommand: Command = {
  name: 'manifests',
  usage: `Usage: berth manifests [-f berth.yaml] --env <name> [-o dir]

Prints every object (or writes one file per object into -o dir). The output is
deterministic: the same sources give the same bytes, and image tags change only
when what goes into an image changes.

${releaseOptionsHelp}
  -o, --output <dir>      write <kind>-<name>.yaml files into dir instead of printing`,
  options: { ...releaseOptions, output: { type: 'string', short: 'o' } },
  async run({ values }, io) {
    const release = loadTargetRelease(values, io);
    const objects = renderManifests(release.system, { tags: release.tags });
    const output = values.output as string | undefined;
    if (!output) {
      io.stdout.write(toYaml(objects));
      return 0;
    }
    const dir = resolve(io.cwd, output);
    mkdirSync(dir, { recursive: true });
    objects.forEach((object, index) => {
      const file = `${String(index).padStart(2, '0')}-${object.kind!.toLowerCase()}-${object.metadata!.name}.yaml`;
      writeFileSync(join(dir, file), toYaml([object]));
    });
    io.stdout.write(`wrote ${objects.length} objects to ${dir}\n`);
    return 0;
  },
};
