import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imageDockerignore } from '../../kube/content-tag.ts';
import { dockerfileFor } from '../../kube/dockerfile.ts';
import { imageFor } from '../../kube/manifests.ts';
import { berthRoot, contextPath, imageNames } from '../../kube/release.ts';
import { type Command, UsageError } from '../command.ts';
import { loadTargetRelease, releaseOptions, releaseOptionsHelp } from '../kube-target.ts';

/** docker or podman, if one answers with a running engine. */
function containerEngine(): string | undefined {
  for (const engine of ['docker', 'podman']) {
    const result = spawnSync(engine, ['info', '--format', '{{.ServerVersion}}'], {
      stdio: 'ignore',
      timeout: 10_000,
    });
    if (result.status === 0) return engine;
  }
  return undefined;
}

export const buildCommand: Command = {
  name: 'build',
  usage: `Usage: berth build [service] [-f berth.yaml] [--env production] [--push]

Writes a multi-stage Dockerfile per service (and the gateway) into
<system>/.berth/build/<name>/Dockerfile and builds <registry>/<system>-<name>:<tag>
with docker or podman. Without a container engine it prints the commands it would run.

${releaseOptionsHelp}
      --push              push each image after building it`,
  options: { ...releaseOptions, push: { type: 'boolean', default: false } },
  async run({ positionals, values }, io) {
    const release = loadTargetRelease(values, io);
    const { system } = release;
    const all = imageNames(system);
    const only = positionals[0];
    if (only && !all.includes(only))
      throw new UsageError(`no service "${only}" in ${system.file}; services: ${all.join(', ')}`);
    const engine = containerEngine();
    let failures = 0;
    for (const name of only ? [only] : all) {
      const dir = join(system.root, '.berth', 'build', name);
      mkdirSync(dir, { recursive: true });
      const dockerfile = join(dir, 'Dockerfile');
      writeFileSync(dockerfile, dockerfileFor(system, name));
      // BuildKit reads `<Dockerfile>.dockerignore` beside it: no tests or dev state in the image.
      const kept = name === 'gateway' && system.gateway.static ? [contextPath(system.gateway.static)] : [];
      writeFileSync(`${dockerfile}.dockerignore`, imageDockerignore(kept));
      const image = imageFor(system, name, release.tags[name]!);
      const commands = [
        ['build', '-f', dockerfile, '-t', image, berthRoot],
        ...(values.push ? [['push', image]] : []),
      ];
      if (!engine) {
        io.stdout.write(`${name}: wrote ${dockerfile}\n`);
        for (const args of commands) io.stdout.write(`  would run: docker ${args.join(' ')}\n`);
        continue;
      }
      for (const args of commands) {
        io.stdout.write(`${name}: ${engine} ${args.join(' ')}\n`);
        const result = spawnSync(engine, args, { stdio: 'inherit' });
        if (result.status !== 0) {
          failures += 1;
          io.stderr.write(
            `${name}: ${engine} ${args[0]} failed (exit ${result.status}); see its output above\n`,
          );
          break;
        }
      }
    }
    if (!engine)
      io.stdout.write(
        'no docker or podman engine answered: nothing was built; run the commands above where one is available\n',
      );
    return failures > 0 ? 1 : 0;
  },
};
