/**
 * berth.yaml's `gateway.ingress` and `gateway.httpRoute` as written (zod): how
 * the gateway is published on Kubernetes, through an Ingress with TLS or a Gateway
 * API HTTPRoute (src/kube/ingress.ts, src/kube/http-route.ts). Names follow Helm
 * charts' `ingress:` and `httpRoute:` values.
 */
import { z } from 'zod';

/** A DNS label (RFC 1123), as namespace names are. */
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A DNS subdomain (RFC 1123), as the names of Secrets, issuers and Gateways are. */
const SUBDOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const subdomain = z
  .string()
  .max(253, { error: 'expected a DNS name of at most 253 characters' })
  .regex(SUBDOMAIN, {
    error: 'expected a Kubernetes object name: lowercase a-z, 0-9, "-" and ".", such as my-tls',
  });

/**
 * A host name the gateway answers to behind an Ingress or HTTPRoute: a DNS name,
 * `*.` first for every subdomain. Never an IP address: both route by the Host header.
 */
const hostName = z
  .string()
  .max(253, { error: 'expected a host name of at most 253 characters' })
  .regex(/^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, {
    error: 'expected a lowercase DNS name such as api.example.com (`*.example.com` for every subdomain)',
  })
  .refine((host) => !/^[\d.]+$/.test(host), {
    error: (issue) =>
      `"${String(issue.input)}" is an IP address: Ingress and HTTPRoute route by host name, so give the DNS name clients use`,
  });

/** The annotation cert-manager reads on an Ingress: which ClusterIssuer signs its certificate. */
export const clusterIssuerAnnotation = 'cert-manager.io/cluster-issuer';

// An annotation key: an optional DNS-subdomain prefix and `/`, then a name of ≤ 63 characters.
const annotationKey = z
  .string()
  .regex(
    /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\/)?[A-Za-z0-9]([\w.-]{0,61}[A-Za-z0-9])?$/,
    { error: 'expected an annotation key such as nginx.ingress.kubernetes.io/proxy-body-size' },
  );

/**
 * TLS at the ingress controller: a Secret the user provides (`secretName`), or
 * one cert-manager issues from a ClusterIssuer (`clusterIssuer`), never both.
 */
const ingressTlsInput = z
  .strictObject({ secretName: subdomain.optional(), clusterIssuer: subdomain.optional() })
  .check((ctx) => {
    const { secretName, clusterIssuer } = ctx.value;
    if ((secretName === undefined) === (clusterIssuer === undefined)) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message:
          secretName === undefined
            ? 'tls needs secretName (a TLS Secret you provide) or clusterIssuer (cert-manager issues one)'
            : 'either secretName (a TLS Secret you provide) or clusterIssuer (cert-manager issues one), not both',
      });
    }
  });

// Named as Helm charts name their `ingress:` values (className, annotations, tls.secretName).
export const ingressInput = z
  .strictObject({
    host: hostName,
    className: subdomain.optional(),
    tls: ingressTlsInput.optional(),
    // YAML reads `ssl-redirect: true` as a boolean; annotations are strings.
    annotations: z.record(annotationKey, z.union([z.string(), z.number(), z.boolean()])).optional(),
  })
  .check((ctx) => {
    const { tls, annotations } = ctx.value;
    if (tls?.clusterIssuer !== undefined && annotations?.[clusterIssuerAnnotation] !== undefined) {
      ctx.issues.push({
        code: 'custom',
        input: ctx.value,
        message: `tls.clusterIssuer sets the ${clusterIssuerAnnotation} annotation: leave it out of annotations`,
      });
    }
  });

// A Gateway API route's parent: a Gateway (in the system's namespace unless `namespace`), or one listener of it.
const parentRefInput = z.strictObject({
  name: subdomain,
  namespace: z
    .string()
    .regex(DNS_LABEL, { error: 'expected a namespace name (a DNS label such as infra)' })
    .optional(),
  sectionName: subdomain.optional(),
});

// Named as `helm create` names its `httpRoute:` values (parentRefs, hostnames).
export const httpRouteInput = z.strictObject({
  parentRefs: z
    .array(parentRefInput)
    .min(1, { error: 'expected at least one parentRef (the Gateway to attach to)' })
    .max(32),
  hostnames: z.array(hostName).min(1, { error: 'expected at least one host name' }).max(16),
});

export type IngressInput = z.output<typeof ingressInput>;
