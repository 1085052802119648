/**
 * The container engines `berth build` builds images with, in the order it tries
 * them: docker (a daemon), podman and buildah (both daemonless, reading the
 * containers storage that storage.conf or CONTAINERS_STORAGE_CONF names).
 * An engine counts only when it works, not merely when its client is installed:
 * a docker client without a daemon is "not usable", with the reason.
 */
import { type Environment, findOnPath, probeTool, type ToolCommand } from './tool-process.ts';

export const ENGINE_NAMES = ['docker', 'podman', 'buildah'] as const;
export type EngineName = (typeof ENGINE_NAMES)[number];

/** When the base image is pulled: `missing` (only when not stored locally), `never`, `always`. */
export const PULL_POLICIES = ['missing', 'never', 'always'] as const;
export type PullPolicy = (typeof PULL_POLICIES)[number];

export interface ImageBuild {
  readonly dockerfile: string;
  /** Patterns of the context left out of the image (`<dockerfile>.dockerignore`). */
  readonly ignoreFile: string;
  readonly context: string;
  /** Fully qualified (see qualifiedImage), so every engine stores the name Kubernetes asks for. */
  readonly image: string;
  readonly pull: PullPolicy;
}

export interface ImageEngine {
  readonly name: EngineName;
  /** What answered the check, e.g. `docker 28.2.2 (daemon)`, for the progress output. */
  readonly summary: string;
  /** The pull policies its build understands. */
  readonly pullPolicies: readonly PullPolicy[];
  build(build: ImageBuild): ToolCommand;
  push(image: string): ToolCommand;
  /** Writes `image` into `archive`, a tar that `ctr images import` reads, under the image's own name. */
  save(image: string, archive: string): ToolCommand;
}

export interface UnusableEngine {
  readonly name: EngineName;
  /** The command that was run, what it said, and what to install or start. */
  readonly problem: string;
}

export type EngineCheck =
  | { readonly usable: true; readonly engine: ImageEngine }
  | ({ readonly usable: false } & UnusableEngine);

interface EngineKind {
  /** Arguments of a command that succeeds only when the engine can build (docker: the daemon answers). */
  readonly check: readonly string[];
  /** Advice when the engine is not installed, and when it is but its check fails. */
  readonly install: string;
  readonly repair: string;
  create(checkOutput: string, env: Environment): ImageEngine;
}

const ENGINES: Record<EngineName, EngineKind> = {
  docker: {
    check: ['version', '--format', '{{.Server.Version}}'],
    install: 'install Docker Engine (https://docs.docker.com/engine/install/), or use podman or buildah',
    repair: 'start the Docker daemon (dockerd) or point DOCKER_HOST at a running one',
    create: (version) => ({
      name: 'docker',
      summary: `docker ${version} (daemon)`,
      // docker build has no "never pull": a base image it lacks is always pulled.
      pullPolicies: ['missing', 'always'],
      build: (build) => ({
        program: 'docker',
        args: [
          'build',
          ...(build.pull === 'always' ? ['--pull'] : []),
          '-f',
          build.dockerfile,
          '-t',
          build.image,
          build.context,
        ],
        // BuildKit is what reads `<Dockerfile>.dockerignore`; the legacy builder would ship the tests.
        env: { DOCKER_BUILDKIT: '1' },
      }),
      push: (image) => ({ program: 'docker', args: ['push', image] }),
      save: (image, archive) => ({ program: 'docker', args: ['save', '-o', archive, image] }),
    }),
  },
  podman: {
    // `podman info --format '{{.ServerVersion}}'` (docker's field) exits 125 on podman 4: ask for podman's own.
    check: ['version', '--format', '{{.Client.Version}}'],
    install: 'install podman (Debian/Ubuntu: apt-get install podman; https://podman.io/docs/installation)',
    repair: 'run `podman info` to see what is wrong with it',
    create: (version) => ({
      name: 'podman',
      summary: `podman ${version}`,
      pullPolicies: PULL_POLICIES,
      build: (build) => ({
        program: 'podman',
        args: [
          'build',
          `--pull=${build.pull}`,
          '-f',
          build.dockerfile,
          // podman 4 (buildah 1.28 inside) reads only the context's .dockerignore, not `<Dockerfile>.dockerignore`.
          '--ignorefile',
          build.ignoreFile,
          '-t',
          build.image,
          build.context,
        ],
      }),
      push: (image) => ({ program: 'podman', args: ['push', image] }),
      save: (image, archive) => ({
        program: 'podman',
        args: ['save', '--format', 'docker-archive', '-o', archive, image],
      }),
    }),
  },
  buildah: {
    // Reads the storage too, so a broken storage.conf shows here rather than halfway through a build.
    check: ['info', '--format', '{{.store.GraphDriverName}} storage at {{.store.GraphRoot}}'],
    install: 'install buildah and runc (Debian/Ubuntu: apt-get install buildah runc)',
    repair: 'check the containers storage it uses (storage.conf, CONTAINERS_STORAGE_CONF)',
    create: (storage, env) => {
      const runtime = buildahRuntime(env);
      return {
        name: 'buildah',
        summary: `buildah (${storage}; RUN steps with ${runtime.description})`,
        pullPolicies: PULL_POLICIES,
        build: (build) => ({
          program: 'buildah',
          args: [
            'bud',
            // Unlike podman, buildah caches no layers by default: every image would reinstall node_modules.
            '--layers',
            `--pull=${build.pull}`,
            '-f',
            build.dockerfile,
            // buildah 1.28 does not read `<Dockerfile>.dockerignore` by itself.
            '--ignorefile',
            build.ignoreFile,
            '-t',
            build.image,
            ...runtime.args,
            // Without a daemon, RUN gets a network only from a CNI configuration, which a
            // buildah-only machine lacks; `npm ci` just needs the host's way out.
            '--network',
            'host',
            build.context,
          ],
        }),
        push: (image) => ({ program: 'buildah', args: ['push', image] }),
        save: (image, archive) => ({
          program: 'buildah',
          args: ['push', image, `oci-archive:${archive}:${image}`],
        }),
      };
    },
  },
};

/** Folders where distributions put runc, which a non-root PATH often leaves out (Debian: /usr/sbin/runc). */
const SYSTEM_BINARY_FOLDERS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/**
 * The OCI runtime for buildah's RUN steps: runc when found, because crun (buildah's
 * default when installed) fails on hosts with cgroup v1 hierarchies ("cgroups in
 * hybrid mode not supported"). BUILDAH_RUNTIME, which buildah reads itself, wins.
 */
function buildahRuntime(env: Environment): { args: string[]; description: string } {
  if (env.BUILDAH_RUNTIME) return { args: [], description: `${env.BUILDAH_RUNTIME} (BUILDAH_RUNTIME)` };
  const runc = findOnPath('runc', env, SYSTEM_BINARY_FOLDERS);
  return runc
    ? { args: ['--runtime', runc], description: runc }
    : { args: [], description: "buildah's default runtime (no runc found)" };
}

export function checkEngine(name: EngineName, env: Environment): EngineCheck {
  const kind = ENGINES[name];
  const probe = probeTool({ program: name, args: kind.check }, env);
  if (!probe.ok) {
    return {
      usable: false,
      name,
      problem: `${probe.problem}; ${probe.notInstalled ? kind.install : kind.repair}`,
    };
  }
  return { usable: true, engine: kind.create(probe.stdout, env) };
}

/** The first engine that works, in ENGINE_NAMES order, and why each one before it does not. */
export function findEngine(env: Environment): {
  engine: ImageEngine | undefined;
  unusable: UnusableEngine[];
} {
  const unusable: UnusableEngine[] = [];
  for (const name of ENGINE_NAMES) {
    const check = checkEngine(name, env);
    if (check.usable) return { engine: check.engine, unusable };
    unusable.push(check);
  }
  return { engine: undefined, unusable };
}

/** docker's commands, to show what would run where no engine is usable. */
export function dockerCommands(): ImageEngine {
  return ENGINES.docker.create('(not checked)', {});
}

/**
 * `image` as Kubernetes and containerd name it: a reference whose first part is
 * not a registry host is Docker Hub's (`shippy-vessel:1` is
 * `docker.io/library/shippy-vessel:1`). buildah and podman would otherwise store
 * it as `localhost/shippy-vessel:1`, a name no pod asks for.
 */
export function qualifiedImage(image: string): string {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return image;
  return slash === -1 ? `docker.io/library/${image}` : `docker.io/${image}`;
}
