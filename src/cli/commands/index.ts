import type { Command } from '../command.ts';

/**
 * Every command `berth` knows, in the order `berth help` lists them, with the
 * one line help shows. Each loads only when used, so `berth call` does not pay for
 * the runner's or the Kubernetes client's imports, and `berth help` for none.
 */
export const commands: ReadonlyArray<readonly [name: string, summary: string, load: () => Promise<Command>]> =
  [
    [
      'new',
      'Create a system (new system <dir>) or add a service to one (new service <name>)',
      async () => (await import('./new.ts')).newCommand,
    ],
    [
      'generate',
      "Regenerate a system's code (gen/) from its .proto files",
      async () => (await import('./generate.ts')).generateCommand,
    ],
    [
      'call',
      'Call a method of a running service and print the JSON response',
      async () => (await import('./call.ts')).callCommand,
    ],
    [
      'list',
      'List running services and their instances, with readiness',
      async () => (await import('./list.ts')).listCommand,
    ],
    [
      'health',
      'Check liveness and readiness of running services (exit 1 unless all ready)',
      async () => (await import('./health.ts')).healthCommand,
    ],
    [
      'gateway',
      'Run the gateway (the public HTTP entry point) in the foreground',
      async () => (await import('./gateway.ts')).gatewayCommand,
    ],
    [
      'run',
      'Run a system locally: embedded Postgres, the gateway and every service',
      async () => (await import('./run.ts')).runCommand,
    ],
    [
      'logs',
      'Show the logs of a locally running system, or of some of its services',
      async () => (await import('./logs.ts')).logsCommand,
    ],
    [
      'traces',
      'Show the recent traces of the locally running system (berth run) as a table',
      async () => (await import('./traces.ts')).tracesCommand,
    ],
    [
      'stop',
      'Stop services of the locally running system (berth run), or the whole system',
      async () => (await import('./stop.ts')).stopCommand,
    ],
    [
      'start',
      'Start services of the locally running system (berth run) again',
      async () => (await import('./start.ts')).startCommand,
    ],
    [
      'manifests',
      'Render the Kubernetes objects of the system as YAML',
      async () => (await import('./manifests.ts')).manifestsCommand,
    ],
    [
      'build',
      'Write Dockerfiles and build images (docker, podman or buildah), optionally push or load them',
      async () => (await import('./build.ts')).buildCommand,
    ],
    [
      'deploy',
      'Apply the system to Kubernetes, watch rollouts, roll back on failure',
      async () => (await import('./deploy.ts')).deployCommand,
    ],
    [
      'status',
      'Show each service (and postgres, nats) on Kubernetes: replicas, revision, image tag',
      async () => (await import('./status.ts')).statusCommand,
    ],
    [
      'rollout',
      'Show releases (rollout history), wait for one (status <service>), go back (undo <service>)',
      async () => (await import('./rollout.ts')).rolloutCommand,
    ],
    [
      'scale',
      'Scale a service on Kubernetes: scale <service>=N (until the next deploy)',
      async () => (await import('./scale.ts')).scaleCommand,
    ],
    [
      'canary',
      'Try a release on some pods: canary <service> --weight 10, then promote|abort',
      async () => (await import('./canary.ts')).canaryCommand,
    ],
  ];
