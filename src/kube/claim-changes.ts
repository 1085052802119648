/**
 * A StatefulSet's volumeClaimTemplates cannot change once it exists: the API
 * server refuses the whole update ("updates to statefulset spec for fields other
 * than …"). So before a deploy (or its dry run) changes anything, a claim whose
 * size or StorageClass in berth.yaml (`resources.<kind>.storage`) differs from the
 * cluster's StatefulSet is reported with what to do instead.
 */
import type { KubernetesObject, V1PersistentVolumeClaim, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeClient } from './kube-client.ts';

const binary: Readonly<Record<string, number>> = { Ki: 1, Mi: 2, Gi: 3, Ti: 4, Pi: 5, Ei: 6 };
const decimal: Readonly<Record<string, number>> = { m: -1, '': 0, k: 1, M: 2, G: 3, T: 4, P: 5, E: 6 };

/**
 * A Kubernetes quantity's value, to compare sizes however they are written: the
 * API server stores `1024Mi` as `1Gi`. NaN when it is none.
 */
export function quantityValue(quantity: string): number {
  const match = /^([+-]?\d*\.?\d+)(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei)|(m|k|M|G|T|P|E)?)$/.exec(quantity);
  if (!match) return Number.NaN;
  const [, number, exponent, binarySuffix, decimalSuffix = ''] = match;
  if (exponent) return Number(`${number}${exponent}`);
  if (binarySuffix) return Number(number) * 1024 ** binary[binarySuffix]!;
  return Number(number) * 1000 ** decimal[decimalSuffix]!;
}

type ClaimTemplate = Pick<V1PersistentVolumeClaim, 'metadata' | 'spec'>;

const sizeOf = (claim: ClaimTemplate) => claim.spec?.resources?.requests?.storage as string | undefined;
const classOf = (claim: ClaimTemplate) => claim.spec?.storageClassName;
const className = (name: string | undefined) => (name === undefined ? 'the default class' : `class ${name}`);

function sameSize(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const [left, right] = [quantityValue(a), quantityValue(b)];
  return Number.isNaN(left) || Number.isNaN(right) ? a === b : left === right;
}

/**
 * Why applying `rendered` over `live` would be refused because a claim template
 * changed, with what to do; undefined when none did (or there is no live one).
 */
export function claimChange(live: V1StatefulSet | undefined, rendered: V1StatefulSet): string | undefined {
  if (!live) return undefined;
  const name = rendered.metadata!.name!;
  const namespace = rendered.metadata?.namespace ?? live.metadata?.namespace;
  const liveClaims = new Map(
    (live.spec?.volumeClaimTemplates ?? []).map((claim) => [claim.metadata?.name, claim]),
  );
  for (const wanted of rendered.spec?.volumeClaimTemplates ?? []) {
    const template = wanted.metadata!.name!;
    const current = liveClaims.get(template);
    if (!current) continue;
    const sizeChanged = !sameSize(sizeOf(current), sizeOf(wanted));
    const classChanged = classOf(current) !== classOf(wanted);
    if (!sizeChanged && !classChanged) continue;
    const claims = Array.from(
      { length: live.spec?.replicas ?? 1 },
      (_, ordinal) => `${template}-${name}-${ordinal}`,
    ).join(', ');
    const from = `${sizeOf(current)} of ${className(classOf(current))}`;
    const to = `${sizeOf(wanted)} of ${className(classOf(wanted))}`;
    const kubectl = `kubectl -n ${namespace}`;
    const grown = quantityValue(sizeOf(wanted) ?? '') > quantityValue(sizeOf(current) ?? '');
    const remedy = classChanged
      ? `A claim's class cannot change: moving the data needs a new volume (back it up, \`${kubectl} delete statefulset ${name}\` and \`delete pvc ${claims}\`, deploy, restore), or set resources.${name}.storage.className back.`
      : grown
        ? `To grow it, expand the claim itself (its StorageClass must allow volume expansion): \`${kubectl} patch pvc ${claims} -p '{"spec":{"resources":{"requests":{"storage":"${sizeOf(wanted)}"}}}}'\`, then \`${kubectl} delete statefulset ${name} --cascade=orphan\` (its pod and claim stay) and deploy again.`
        : `A claim cannot shrink: set resources.${name}.storage.size back to ${sizeOf(current)}.`;
    return (
      `resources.${name}.storage asks ${to} for claim "${template}", but the cluster's StatefulSet was made with ${from}, ` +
      `and a StatefulSet's volumeClaimTemplates cannot change. ${remedy}`
    );
  }
  return undefined;
}

/** For a StatefulSet that exists already: why its rendered claims cannot be applied; else undefined. */
export async function refusedClaimChange(
  client: KubeClient,
  object: KubernetesObject,
): Promise<string | undefined> {
  if (object.kind !== 'StatefulSet') return undefined;
  const live = await client.get<V1StatefulSet>(
    object.apiVersion!,
    'StatefulSet',
    object.metadata?.namespace,
    object.metadata!.name!,
  );
  return claimChange(live, object as V1StatefulSet);
}
