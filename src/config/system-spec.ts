/**
 * berth.yaml resolved: what loadSystemFile (system-file.ts) gives everything else,
 * with overlays applied, defaults filled in and paths absolute.
 */
import type { ResourceKind } from './system-file-schema.ts';

export interface ComputeResources {
  /** Requests. */
  readonly cpu?: string;
  readonly memory?: string;
  readonly limits?: { readonly cpu?: string; readonly memory?: string };
}

export interface ServiceSpec {
  readonly name: string;
  /** Folder as written, relative to berth.yaml. */
  readonly path: string;
  /** Absolute folder. */
  readonly dir: string;
  /** Absolute entry file (`<dir>/main.ts` by default). */
  readonly entry: string;
  /** 0 = any free port. */
  readonly port: number;
  /** Pods on Kubernetes and local instances; with `autoscale`, its `min`. */
  readonly replicas: number;
  /** Kubernetes: a HorizontalPodAutoscaler sets the replicas (the Deployment then has none). */
  readonly autoscale?: AutoscaleSpec;
  readonly uses: readonly ResourceKind[];
  readonly dependsOn: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Env vars whose values are secrets (Kubernetes: Secret `<name>-secrets`). */
  readonly secrets: readonly string[];
  readonly resources: ComputeResources | undefined;
  /**
   * Fully-qualified proto services it serves, as berth.yaml lists them; undefined:
   * those the system's .proto files declare in its package (src/kube/proto-services.ts).
   */
  readonly serves: readonly string[] | undefined;
  /** Present when the service (or its overlay) sets its own `rollout`; else the system's applies. */
  readonly rollout?: RolloutSpec;
  /** Kubernetes: destinations outside the system its pods may reach, besides what berth allows (DNS, the system, its resources). */
  readonly egress: readonly EgressRule[];
}

/** berth.yaml `services.<name>.egress[]`: one port at one range of addresses. */
export interface EgressRule {
  readonly port: number;
  /** Undefined: any address (IPv4 and IPv6). */
  readonly cidr?: string;
  readonly protocol: 'TCP' | 'UDP' | 'SCTP';
}

/** berth.yaml `rollout`: how `berth deploy` (and every wait for a rollout) judges a Deployment's. */
export interface RolloutSpec {
  /** A new pod counts as available once it has been ready this long (Deployment `minReadySeconds`). */
  readonly minReadySeconds: number;
  /** A pod of the new template that has restarted this many times fails the rollout. */
  readonly restartLimit: number;
  /** How long a rollout may go without another new pod becoming available; unset: `--timeout`. */
  readonly podTimeoutSeconds?: number;
  /**
   * How long `berth deploy` watches a changed service once every rollout completed
   * (restarts, readiness, error rate) before it counts the release as deployed; 0: no bake.
   */
  readonly bakeSeconds: number;
}

/** berth.yaml `autoscale`: replicas between `min` and `max`, at `cpu` % average CPU utilization. */
export interface AutoscaleSpec {
  readonly min: number;
  readonly max: number;
  readonly cpu: number;
}

export interface GatewaySpec {
  readonly port: number;
  /** Gateway pods on Kubernetes (default 2: one can go while the other serves). */
  readonly replicas: number;
  readonly resources: ComputeResources | undefined;
  readonly cors: { readonly origins: readonly string[] };
  /** Bytes. */
  readonly bodyLimit: number;
  readonly timeoutMs: number;
  /** Absolute folder served at `/`, if any. */
  readonly static: string | undefined;
  /** Connection limits berth.yaml sets; present only when it sets one (the others keep their defaults). */
  readonly connectionLimits?: GatewayConnectionLimits;
  /** Kubernetes: an Ingress to the gateway's Service (which is then ClusterIP); present only when set. */
  readonly ingress?: GatewayIngressSpec;
  /** Kubernetes: a Gateway API HTTPRoute to the gateway's Service (then ClusterIP); present only when set. */
  readonly httpRoute?: GatewayHttpRouteSpec;
}

/** berth.yaml `gateway.httpRoute`: the HTTPRoute that attaches the gateway to Gateways at `hostnames`. */
export interface GatewayHttpRouteSpec {
  readonly parentRefs: ReadonlyArray<{
    readonly name: string;
    /** Unset: the system's namespace. */
    readonly namespace?: string;
    /** One listener of the Gateway; unset: every listener that admits the route. */
    readonly sectionName?: string;
  }>;
  readonly hostnames: readonly string[];
}

/** berth.yaml `gateway.ingress`: the Ingress that publishes the gateway at `host`. */
export interface GatewayIngressSpec {
  readonly host: string;
  /** IngressClass; unset: the cluster's default class. */
  readonly className?: string;
  /** TLS at the ingress controller, with the certificate in Secret `secretName`; unset: plain HTTP. */
  readonly tls?: {
    readonly secretName: string;
    /** cert-manager issues the certificate into `secretName` from this ClusterIssuer. */
    readonly clusterIssuer?: string;
  };
  readonly annotations: Readonly<Record<string, string>>;
}

/** The connection limits berth.yaml may set (ConnectionLimits in src/service/dual-protocol-server.ts). */
export interface GatewayConnectionLimits {
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  readonly idleTimeoutMs?: number;
  readonly maxConnections?: number;
}

/** A Secret in the cluster holding an external server's URL (credentials included). */
export interface UrlSecret {
  readonly name: string;
  readonly key: string;
}

/** The server berth runs in the cluster for a resource without a url: what it runs and asks for. */
export interface InClusterServerSpec {
  readonly image: string;
  /** Its container's requests and limits; undefined: what it idles at (stateful-resources.ts). */
  readonly resources: ComputeResources | undefined;
  /** Its volume claim. */
  readonly storage: StorageSpec;
}

/** berth.yaml `resources.<kind>.storage`: the StatefulSet's volumeClaimTemplate. */
export interface StorageSpec {
  /** A Kubernetes quantity (`10Gi`). */
  readonly size: string;
  /** Undefined: the cluster's default StorageClass. */
  readonly className?: string;
}

export interface PostgresSpec extends InClusterServerSpec {
  /** True: berth runs an embedded Postgres locally (and one in the cluster). */
  readonly embedded: boolean;
  readonly url: string | undefined;
  /** On Kubernetes, the URL from this Secret; locally DATABASE_URL says where it is. */
  readonly urlSecret?: UrlSecret;
}

/** An external server when `url` or `urlSecret` is set; else berth provides one (local direct delivery / in-cluster NATS). */
export interface NatsSpec extends InClusterServerSpec {
  readonly url: string | undefined;
  /** On Kubernetes, the URL from this Secret; locally NATS_URL says where it is. */
  readonly urlSecret?: UrlSecret;
}

export interface BuildSpec {
  /** Image reference the Dockerfiles start FROM (`FROM <base>`); its text is part of every image tag. */
  readonly base: string;
}

export interface ResourceSpecs {
  readonly postgres?: PostgresSpec;
  readonly nats?: NatsSpec;
}

/** berth.yaml `telemetry`: where every Deployment's traces go (docs/telemetry.md). */
export interface TelemetrySpec {
  readonly otlpEndpoint?: string;
  readonly protocol?: 'http/protobuf' | 'http/json' | 'grpc';
  readonly sampler?: string;
  readonly samplerArg?: number;
}

export interface SystemFile {
  /** Absolute path of berth.yaml. */
  readonly file: string;
  /** Folder holding it; service paths are relative to it. */
  readonly root: string;
  /** The environment whose overlay (if any) was applied. */
  readonly environment: string;
  readonly system: string;
  readonly namespace: string;
  readonly registry: string | undefined;
  readonly build: BuildSpec;
  readonly gateway: GatewaySpec;
  readonly resources: ResourceSpecs;
  /** Unset: the pods trace only if their own `env` says so. */
  readonly telemetry?: TelemetrySpec;
  /** Every Deployment's rollout settings; a service's own `rollout` overrides them. */
  readonly rollout: RolloutSpec;
  /** Services in file order; see startOrder() for the order to start them. */
  readonly services: Readonly<Record<string, ServiceSpec>>;
  /** Names of the overlays the file defines. */
  readonly environments: readonly string[];
}
