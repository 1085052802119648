/**
 * The berth.yaml schema as written (zod), before overlays are applied and paths
 * resolved (system-file.ts): names, quantities and sizes, services, gateway,
 * resources, build settings and environment overlays.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { otlpProtocols, traceSamplers } from '../telemetry/tracing-env.ts';
import { httpRouteInput, ingressInput } from './gateway-routes-schema.ts';

/** A Kubernetes DNS label, as system and service names must be. */
export const NAME = /^[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const name = z.string().regex(NAME, {
  error: 'expected a lowercase name (a-z first, then a-z, 0-9 or "-"; not ending in "-"; ≤ 63)',
});
/**
 * Names a service cannot take: the runner's units and the Kubernetes objects
 * berth renders for them (the gateway's Deployment, the postgres StatefulSet, the
 * nats one) would collide with a service's of the same name.
 */
export const unitNames = ['gateway', 'postgres', 'nats'] as const;
const serviceName = name.refine((value) => !(unitNames as readonly string[]).includes(value), {
  error: (issue) =>
    `"${String(issue.input)}" is reserved for berth's own ${String(issue.input)}: choose another service name`,
});
const port = z.int().min(0).max(65535);
const QUANTITY = /^\d+(\.\d+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const quantity = z
  .union([
    z.string().regex(QUANTITY, { error: 'expected a Kubernetes quantity such as 250m, 0.5, 256Mi or 1Gi' }),
    z.number().positive(),
  ])
  .transform(String);
export const BYTES = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/i;
const byteSize = z.union([
  z.int().positive(),
  z.string().regex(BYTES, { error: 'expected a size such as 512kb, 1mb or a number of bytes' }),
]);

const computeResources = z.strictObject({
  cpu: quantity.optional(),
  memory: quantity.optional(),
  limits: z.strictObject({ cpu: quantity.optional(), memory: quantity.optional() }).optional(),
});

// A proto service's fully-qualified name: package, then service (`shippy.vessel.v1.VesselService`).
const protoServiceName = z.string().regex(/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$/, {
  error: 'expected a fully-qualified proto service name such as shippy.vessel.v1.VesselService',
});

// The image of an in-cluster resource, e.g. postgres:16.4-bookworm or registry.example.com/pg@sha256:…
const resourceImage = z
  .string()
  .regex(/^[\w.-]+(:\d+)?(\/[\w.-]+)*(:\w[\w.-]{0,127})?(@sha256:[0-9a-f]{64})?$/, {
    error: 'expected an image reference such as postgres:16.4-bookworm',
  });

/** Where a Secret in the cluster holds an external server's URL, credentials included. */
const urlSecret = z.strictObject({ name, key: z.string().min(1).default('url') });

/**
 * A URL written in berth.yaml ends up in git and in plain `env` values of every
 * Deployment: one with a password must come from a Secret instead.
 */
const externalUrl = (scheme: RegExp, example: string) =>
  z
    .string()
    .regex(scheme, { error: `expected a ${example} URL` })
    .refine((url) => !/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url), {
      error:
        'a password in berth.yaml ends up in git and in every Deployment: put the URL in a Secret and name it (urlSecret: { name: <secret>, key: url })',
    });

/**
 * A claim's size: a Kubernetes quantity of bytes (no milli-bytes), above zero; a
 * plain number is bytes.
 */
const STORAGE_SIZE = /^(?=.*[1-9])\d+(\.\d+)?(k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const storageSize = z
  .union([
    z.string().regex(STORAGE_SIZE, {
      error: 'expected a Kubernetes quantity of bytes above zero, such as 10Gi, 500Mi or 20G',
    }),
    z.int().positive(),
  ])
  .transform(String);

// A StorageClass's name is a DNS subdomain.
const storageClassName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, {
    error: 'expected a StorageClass name such as standard or gp3 (lowercase letters, digits, "-" and ".")',
  });

/** The server berth runs in the cluster: its image, its container's resources and its volume claim. */
const inClusterServer = {
  image: resourceImage.optional(),
  resources: computeResources.optional(),
  storage: z
    .strictObject({ size: storageSize.optional(), className: storageClassName.optional() })
    .optional(),
};

/** Image, resources and storage only make sense for the server berth runs, not next to an external `url`. */
function serverNeedsNoUrl(
  ctx: z.core.ParsePayload<{
    image?: string;
    resources?: unknown;
    storage?: unknown;
    url?: string;
    urlSecret?: unknown;
  }>,
): void {
  const { url, urlSecret: secret } = ctx.value;
  const external = url !== undefined || secret !== undefined;
  for (const key of ['image', 'resources', 'storage'] as const) {
    if (external && ctx.value[key] !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `${key} is for the server berth runs; with a url there is none: set one or the other`,
      });
    }
  }
  if (url !== undefined && secret !== undefined) {
    ctx.issues.push({ code: 'custom', input: ctx.value, message: 'either url or urlSecret, not both' });
  }
}

export const RESOURCE_KINDS = ['postgres', 'nats'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

// On Kubernetes: a HorizontalPodAutoscaler keeps replicas between min and max at `cpu` % average utilization.
const autoscaleInput = z
  .strictObject({
    min: z.int().min(1).max(1000),
    max: z.int().min(1).max(1000),
    cpu: z.int().min(1).max(100),
  })
  .refine((autoscale) => autoscale.min <= autoscale.max, {
    error: (issue) => {
      const { min, max } = issue.input as { min: number; max: number };
      return `min (${min}) must not exceed max (${max})`;
    },
  });

/**
 * How a Kubernetes rollout is judged (docs/system-file.md, `rollout`): how long
 * a new pod must stay ready to count, how often it may restart, and how long
 * the rollout may go without another pod becoming available, and how long
 * `berth deploy` watches the new release once it is out (the bake).
 */
const rolloutInput = z.strictObject({
  minReadySeconds: z.int().min(0).max(3600).optional(),
  restartLimit: z.int().min(1).max(1000).optional(),
  podTimeoutSeconds: z.int().min(1).max(86_400).optional(),
  bakeSeconds: z.int().min(0).max(86_400).optional(),
});

/** `address/prefix`, IPv4 or IPv6, as a NetworkPolicy's ipBlock takes it. */
function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  const family = isIP(address ?? '');
  if (rest.length > 0 || family === 0 || prefix === undefined || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * On Kubernetes: a destination outside the system that the service's pods may
 * open connections to (an SMTP server, a third-party API); any address unless a
 * `cidr` narrows it.
 */
const egressInput = z.strictObject({
  port: z.int().min(1).max(65535),
  cidr: z
    .string()
    .refine(isCidr, {
      error: (issue) =>
        `expected a CIDR such as 203.0.113.0/24 or 2001:db8::/32 (an address, "/" and a prefix length; one address is /32, or /128 in IPv6), got "${String(issue.input)}"`,
    })
    .optional(),
  protocol: z.enum(['TCP', 'UDP', 'SCTP']).optional(),
});

const serviceInput = z.strictObject({
  path: z.string().min(1).optional(),
  entry: z.string().min(1).optional(),
  port: port.optional(),
  replicas: z.int().min(1).max(1000).optional(),
  autoscale: autoscaleInput.optional(),
  uses: z.array(z.enum(RESOURCE_KINDS)).optional(),
  dependsOn: z.array(name).optional(),
  secrets: z
    .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }))
    .optional(),
  env: z
    .record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }),
      z.union([z.string(), z.number(), z.boolean()]),
    )
    .optional(),
  resources: computeResources.optional(),
  serves: z.array(protoServiceName).optional(),
  rollout: rolloutInput.optional(),
  egress: z.array(egressInput).optional(),
});

const gatewayInput = z.strictObject({
  port: port.optional(),
  // On Kubernetes: how many gateway pods, and what each requests.
  replicas: z.int().min(1).max(1000).optional(),
  resources: computeResources.optional(),
  cors: z.strictObject({ origins: z.array(z.string().min(1)).optional() }).optional(),
  bodyLimit: byteSize.optional(),
  timeoutMs: z.int().positive().optional(),
  static: z.string().min(1).optional(),
  // Connection limits (src/service/dual-protocol-server.ts); unset: its defaults.
  headersTimeoutMs: z.int().positive().optional(),
  requestTimeoutMs: z.int().positive().optional(),
  keepAliveTimeoutMs: z.int().positive().optional(),
  idleTimeoutMs: z.int().positive().optional(),
  maxConnections: z.int().positive().optional(),
  // On Kubernetes: an Ingress to the gateway's Service (an overlay's replaces the base's whole).
  ingress: ingressInput.optional(),
  // On Kubernetes: a Gateway API HTTPRoute to the gateway's Service (likewise replaced whole).
  httpRoute: httpRouteInput.optional(),
});

// Traces of every Deployment (Kubernetes), as the OTEL_* variables the pods get (docs/telemetry.md).
const telemetryInput = z.strictObject({
  otlpEndpoint: z
    .string()
    .regex(/^https?:\/\/[^/]/, {
      error: 'expected an http:// or https:// URL such as http://otel-collector:4318',
    })
    .refine((url) => !/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url), {
      error: 'a password in berth.yaml ends up in git and in every Deployment: leave it out of the URL',
    })
    .optional(),
  protocol: z.enum(otlpProtocols).optional(),
  sampler: z.enum(traceSamplers).optional(),
  samplerArg: z.number().min(0).max(1).optional(),
});

const postgresInput = z
  .strictObject({
    embedded: z.boolean().optional(),
    url: externalUrl(/^postgres(ql)?:\/\//, 'postgres://').optional(),
    urlSecret: urlSecret.optional(),
    ...inClusterServer,
  })
  .check(serverNeedsNoUrl)
  .check((ctx) => {
    const { embedded, url, urlSecret: secret } = ctx.value;
    const external = url !== undefined || secret !== undefined;
    if (embedded === true && external) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: 'either embedded: true or a url, not both',
      });
    } else if (embedded === false && !external) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: 'embedded: false needs a url or a urlSecret',
      });
    }
  });

const resourcesInput = z.strictObject({
  postgres: postgresInput.optional(),
  nats: z
    .strictObject({
      url: externalUrl(/^(nats|tls|ws|wss):\/\//, 'nats://').optional(),
      urlSecret: urlSecret.optional(),
      ...inClusterServer,
    })
    .check(serverNeedsNoUrl)
    .optional(),
});

const registry = z.string().regex(/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._-]+)*$/, {
  error: 'expected an image registry such as registry.example.com/shippy (no scheme)',
});

// `berth build`'s settings. The base image is any image reference, as a resource's image is.
const buildInput = z.strictObject({ base: resourceImage.optional() });

const overlayInput = z.strictObject({
  namespace: name.optional(),
  registry: registry.optional(),
  build: buildInput.optional(),
  gateway: gatewayInput.optional(),
  resources: resourcesInput.optional(),
  telemetry: telemetryInput.optional(),
  rollout: rolloutInput.optional(),
  services: z.record(serviceName, serviceInput).optional(),
});

export const systemInput = z.strictObject({
  system: name,
  namespace: name.optional(),
  registry: registry.optional(),
  build: buildInput.optional(),
  gateway: gatewayInput.optional(),
  resources: resourcesInput.optional(),
  telemetry: telemetryInput.optional(),
  rollout: rolloutInput.optional(),
  services: z.record(serviceName, serviceInput),
  environments: z
    .record(z.string().regex(/^[\w.-]+$/, { error: 'expected an environment name' }), overlayInput)
    .optional(),
});

export type SystemInput = z.output<typeof systemInput>;
export type OverlayInput = z.output<typeof overlayInput>;
export type ServiceInput = z.output<typeof serviceInput>;
export type TelemetryInput = z.output<typeof telemetryInput>;
export type RolloutInput = z.output<typeof rolloutInput>;
export type EgressInput = z.output<typeof egressInput>;
