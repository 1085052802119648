/**
 * An informer (list → watch → cache, client-node's) that does not give up.
 * client-node's informer stops on errors other than 410 Gone
 * (kubernetes-client/javascript#795), so this one restarts it with jittered
 * exponential backoff, owned here, as client-go's reflector does.
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from '@kubernetes/client-node';
import type { Logger } from '../log/logger.ts';

export interface RestartingInformerOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** The collection watched, e.g. `/api/v1/namespaces/shippy/services`. */
  readonly path: string;
  readonly labelSelector: string;
  /** The list call for the same collection and selector. */
  readonly list: () => Promise<KubernetesListObject<T>>;
  /** The kind watched, for the log. */
  readonly kind: string;
  readonly logger?: Logger;
  /** An object appeared or changed (also for every object of each relist). */
  readonly onUpsert: (object: T) => void;
  readonly onDelete: (object: T) => void;
}

export class RestartingInformer<T extends KubernetesObject> {
  readonly #informer: ReturnType<typeof makeInformer<T>>;
  #closed = false;
  #failures = 0;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(options: RestartingInformerOptions<T>) {
    const { kubeConfig, path, labelSelector, list, kind, logger } = options;
    // The backoff resets on a list that succeeds: client-node emits 'connect'
    // before it lists, so resetting there kept a refused (403) watch at ~1 s forever.
    const informer = makeInformer<T>(
      kubeConfig,
      path,
      () =>
        list().then((result) => {
          this.#failures = 0;
          return result;
        }),
      labelSelector,
    );
    informer.on('add', options.onUpsert);
    informer.on('update', options.onUpsert);
    informer.on('delete', options.onDelete);
    informer.on('error', (error: unknown) => {
      if (this.#closed) return;
      this.#failures += 1;
      const delay = Math.min(30_000, 500 * 2 ** this.#failures) * (0.5 + Math.random() / 2);
      logger?.warn({ err: error, retryInMs: Math.round(delay) }, `${kind} watch failed; restarting`);
      this.#restartTimer = setTimeout(() => void informer.start().catch(() => {}), delay);
    });
    this.#informer = informer;
  }

  /** Resolves once the first list is in (and its objects were handed to `onUpsert`). */
  start(): Promise<void> {
    return this.#informer.start();
  }

  async stop(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#restartTimer);
    await this.#informer.stop();
  }
}
