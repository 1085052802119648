import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SystemFile } from '../../config/system-file.ts';
import { checkContainerd, containerdAddress, importCommand } from '../../kube/containerd-import.ts';
import { imageDockerignore } from '../../kube/content-tag.ts';
import { dockerfileFor } from '../../kube/dockerfile.ts';
import {
  checkEngine,
  dockerCommands,
  ENGINE_NAMES,
  type EngineName,
  findEngine,
  type ImageBuild,
  type ImageEngine,
  PULL_POLICIES,
  type PullPolicy,
  qualifiedImage,
  type UnusableEngine,
} from '../../kube/image-engine.ts';
import { berthRoot, contextPath, imageNames } from '../../kube/release.ts';
import { formatCommand, runTool, type ToolCommand } from '../../kube/tool-process.ts';
import { imageFor } from '../../kube/workload.ts';
import { type Command, type CommandIo, UsageError } from '../command.ts';
import { loadTargetRelease, releaseOptions, releaseOptionsHelp } from '../kube-target.ts';

/** What happens to an image, in order; a step that fails skips the image's later steps. */
type Action = 'build' | 'push' | 'load';

interface Step {
  readonly action: Action;
  readonly commands: readonly ToolCommand[];
}

/** Progress words per action, and what to do after it failed (`engine`: the one building). */
const WORDS: Record<
  Action,
  { readonly doing: string; readonly done: string; readonly retry: (engine: EngineName) => string }
> = {
  build: { doing: 'building', done: 'built', retry: () => 'fix what it reports, then run berth build again' },
  push: {
    doing: 'pushing',
    done: 'pushed',
    retry: (engine) =>
      `check the registry and your login (\`${engine} login <registry>\`), then berth build --push again`,
  },
  load: {
    doing: 'loading into containerd',
    done: 'loaded',
    retry: () => 'fix what it reports, then run berth build --load again (the build itself is cached)',
  },
};

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${what}: expected ${allowed.join(', ')}, got "${value}"`);
}

/** `--engine`, else BERTH_BUILD_ENGINE: the one engine to use, and how it was asked for (for messages). */
function forcedEngine(
  values: Record<string, unknown>,
  env: CommandIo['env'],
): { name: EngineName; from: string } | undefined {
  const option = values.engine as string | undefined;
  if (option !== undefined)
    return { name: oneOf(option, ENGINE_NAMES, '--engine'), from: `--engine ${option}` };
  const variable = env.BERTH_BUILD_ENGINE;
  if (!variable) return undefined;
  const from = `BERTH_BUILD_ENGINE=${variable}`;
  return { name: oneOf(variable, ENGINE_NAMES, 'BERTH_BUILD_ENGINE'), from };
}

function listUnusable(unusable: readonly UnusableEngine[]): string {
  return unusable.map(({ name, problem }) => `  ${name}: ${problem}\n`).join('');
}

/**
 * The Dockerfile of `name` and, beside it, the ignore file that keeps tests and dev
 * state out of the image (BuildKit reads `<Dockerfile>.dockerignore` by itself).
 */
function writeBuildFiles(system: SystemFile, name: string): { dockerfile: string; ignoreFile: string } {
  const dir = join(system.root, '.berth', 'build', name);
  mkdirSync(dir, { recursive: true });
  const dockerfile = join(dir, 'Dockerfile');
  writeFileSync(dockerfile, dockerfileFor(system, name));
  const kept = name === 'gateway' && system.gateway.static ? [contextPath(system.gateway.static)] : [];
  const ignoreFile = `${dockerfile}.dockerignore`;
  writeFileSync(ignoreFile, imageDockerignore(kept));
  return { dockerfile, ignoreFile };
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}

/** The engine to build with, or none (then `unusable` says why); throws when a forced one does not work. */
function selectEngine(
  values: Record<string, unknown>,
  env: CommandIo['env'],
): { engine: ImageEngine | undefined; unusable: UnusableEngine[] } {
  const forced = forcedEngine(values, env);
  if (!forced) return findEngine(env);
  const check = checkEngine(forced.name, env);
  if (!check.usable) throw new Error(`${forced.from}: not usable: ${check.problem}`);
  return { engine: check.engine, unusable: [] };
}

function stepsFor(
  engine: ImageEngine,
  build: ImageBuild,
  push: boolean,
  load: { readonly containerd: string; readonly archive: string } | undefined,
): Step[] {
  const steps: Step[] = [{ action: 'build', commands: [engine.build(build)] }];
  if (push) steps.push({ action: 'push', commands: [engine.push(build.image)] });
  if (load) {
    const { containerd, archive } = load;
    steps.push({
      action: 'load',
      commands: [engine.save(build.image, archive), importCommand(containerd, archive)],
    });
  }
  return steps;
}

/** Runs the steps of one image with progress lines; whether all of them succeeded. */
async function runSteps(
  name: string,
  image: string,
  engine: ImageEngine,
  steps: readonly Step[],
  io: CommandIo,
): Promise<boolean> {
  for (const { action, commands } of steps) {
    const words = WORDS[action];
    io.stdout.write(`${name}: ${words.doing} ${image}\n`);
    const started = performance.now();
    for (const command of commands) {
      io.stdout.write(`${name}: $ ${formatCommand(command)}\n`);
      const result = await runTool(command, io);
      if (result.code !== 0 && io.signal.aborted) {
        io.stderr.write(`${name}: ${action} interrupted after ${seconds(started)}\n`);
        return false;
      }
      if (result.code !== 0) {
        const ending = result.code === undefined ? result.problem : `exited ${result.code}`;
        io.stderr.write(
          `${name}: ${action} failed: ${command.program} ${ending} after ${seconds(started)}; ` +
            `its output above says why. Next: ${words.retry(engine.name)}\n`,
        );
        return false;
      }
    }
    io.stdout.write(`${name}: ${words.done} in ${seconds(started)}\n`);
  }
  return true;
}

export const buildCommand: Command = {
  name: 'build',
  usage: `Usage: berth build [service] [-f berth.yaml] --env <name> [--engine e] [--pull p] [--push] [--load]

Writes a multi-stage Dockerfile per service (and the gateway) into
<system>/.berth/build/<name>/Dockerfile, FROM berth.yaml's build.base (default
node:24-bookworm-slim), and builds <registry>/<system>-<name>:<tag> with the
first container engine that works: docker (its daemon must answer), podman,
buildah. Without one it prints the commands it would run.

${releaseOptionsHelp}
      --engine <name>     docker, podman or buildah and no other (default:
                          BERTH_BUILD_ENGINE, else the first that works)
      --pull <policy>     when to pull the base image: missing (default), never, always
      --push              push each image after building it
      --load              import each image into a Kubernetes node's containerd
                          (namespace k8s.io), so pods run it without a registry
      --containerd <sock> containerd socket for --load (default: CONTAINERD_ADDRESS,
                          else /run/containerd/containerd.sock)`,
  options: {
    ...releaseOptions,
    engine: { type: 'string' },
    pull: { type: 'string', default: 'missing' },
    push: { type: 'boolean', default: false },
    load: { type: 'boolean', default: false },
    containerd: { type: 'string' },
  },
  async run({ positionals, values }, io) {
    const pull: PullPolicy = oneOf(values.pull as string, PULL_POLICIES, '--pull');
    const push = values.push === true;
    if (values.containerd !== undefined && values.load !== true)
      throw new UsageError('--containerd names the socket for --load, which was not given');
    const release = loadTargetRelease(values, io);
    const { system } = release;
    const all = imageNames(system);
    const only = positionals[0];
    if (only && !all.includes(only))
      throw new UsageError(`no service "${only}" in ${system.file}; services: ${all.join(', ')}`);

    // Everything that can stop the build is checked before the first image is built.
    const { engine, unusable } = selectEngine(values, io.env);
    const needEngine = [push && '--push', values.load === true && '--load'].filter(Boolean);
    if (!engine && needEngine.length > 0)
      throw new Error(
        `${needEngine.join(' and ')}: no container engine is usable:\n${listUnusable(unusable)}`,
      );
    if (engine && !engine.pullPolicies.includes(pull))
      throw new UsageError(
        `--pull ${pull}: ${engine.name} cannot build without pulling a base image it lacks; use ${engine.pullPolicies.join(' or ')}, or --engine podman or buildah`,
      );
    const containerd =
      values.load === true ? containerdAddress(values.containerd as string | undefined, io.env) : undefined;
    if (containerd) {
      const problem = checkContainerd(containerd, io.env);
      if (problem) throw new Error(`--load: ${problem}`);
    }

    if (engine) {
      io.stdout.write(`engine: ${engine.summary}\n`);
      for (const { name, problem } of unusable) io.stdout.write(`  passed over ${name}: ${problem}\n`);
      if (containerd) io.stdout.write(`loading into containerd at ${containerd}\n`);
    }
    // Private (0700): another user of this machine could otherwise swap an archive
    // between save and import, and so choose what the node runs.
    const archives = containerd ? mkdtempSync(join(tmpdir(), 'berth-load-')) : undefined;
    if (archives) chmodSync(archives, 0o700);
    const failed: string[] = [];
    try {
      for (const name of only ? [only] : all) {
        if (io.signal.aborted) break;
        const files = writeBuildFiles(system, name);
        const image = qualifiedImage(imageFor(system, name, release.tags[name]!));
        const build: ImageBuild = { ...files, context: berthRoot, image, pull };
        if (!engine) {
          const command = formatCommand(dockerCommands().build(build));
          io.stdout.write(`${name}: wrote ${files.dockerfile}\n  would run: ${command}\n`);
          continue;
        }
        const load =
          containerd && archives ? { containerd, archive: join(archives, `${name}.tar`) } : undefined;
        if (!(await runSteps(name, image, engine, stepsFor(engine, build, push, load), io)))
          failed.push(name);
        // One archive at a time on disk: each holds a whole image.
        if (load) rmSync(load.archive, { force: true });
      }
    } finally {
      if (archives) rmSync(archives, { recursive: true, force: true });
    }

    if (!engine) {
      io.stdout.write(
        `no container engine is usable, so nothing was built; run the commands above where one is:\n${listUnusable(unusable)}`,
      );
      return 0;
    }
    if (io.signal.aborted) {
      io.stderr.write('interrupted: the images not yet built were skipped\n');
      return 130;
    }
    if (failed.length > 0) {
      io.stderr.write(`${failed.length} image(s) failed: ${failed.join(', ')}\n`);
      return 1;
    }
    return 0;
  },
};
