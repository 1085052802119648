/**
 * What run.ts and its child processes (follower.ts, registrant.ts) say to each
 * other over Node's IPC channel. Times are `process.hrtime` in milliseconds:
 * on Linux that is CLOCK_MONOTONIC, one clock for every process of the machine,
 * so a time taken in a child can be subtracted from one taken in run.ts.
 */

/** How a follower discovers: berth's registries, or the bare informer baseline. */
export type FollowerConfig =
  | { readonly mode: 'local'; readonly dir: string }
  | {
      readonly mode: 'kube' | 'kube-informer';
      readonly kubeconfig: string;
      readonly namespace: string;
      readonly system: string;
    };

/** The service every step counts instances of. */
export const serviceName = 'vessel';
export const systemName = 'shippy';
export const protoService = 'shippy.vessel.v1.VesselService';

/** What a follower measured since it was armed (or since an idle window began). */
export interface Usage {
  /** User + system CPU of the whole process (process.cpuUsage), ms. */
  readonly cpuMs: number;
  /** Registry events the cache consumed (kube-informer: EndpointSlice watch events). */
  readonly events: number;
  /** HTTP requests the process started (undici diagnostics channel): lists, watches. */
  readonly requests: number;
  /** Connections it opened (TLS to the API server). */
  readonly connections: number;
  /** Peak RSS of the process so far (getrusage maxrss), MB. */
  readonly peakRssMb: number;
  /** RSS now, MB. */
  readonly rssMb: number;
}

export type ToFollower =
  /** Report `reached` once exactly `count` instances are known. */
  | { readonly type: 'expect'; readonly count: number }
  /** Report `idled` after `ms` of doing nothing but following. */
  | { readonly type: 'idle'; readonly ms: number }
  | { readonly type: 'stop' };

export type FromFollower =
  | { readonly type: 'synced'; readonly count: number; readonly usage: Usage }
  | { readonly type: 'armed' }
  | {
      readonly type: 'reached';
      readonly count: number;
      /** hrtime (ms) when the follower saw `count` instances. */
      readonly atMs: number;
      /** How many of them the cache also offers by proto service (kube: from the Service informer). */
      readonly serving: number;
      readonly usage: Usage;
    }
  | { readonly type: 'idled'; readonly count: number; readonly usage: Usage }
  | { readonly type: 'failed'; readonly message: string };

export type ToRegistrant =
  | { readonly type: 'register'; readonly count: number }
  | { readonly type: 'deregister' }
  | { readonly type: 'stop' };

export type FromRegistrant =
  | { readonly type: 'ready' }
  /** hrtime (ms) when the last file was written (or removed). */
  | { readonly type: 'done'; readonly atMs: number }
  | { readonly type: 'failed'; readonly message: string };

export const hrtimeMs = (): number => Number(process.hrtime.bigint()) / 1e6;
