/**
 * The HandlerContext a handler gets on the lean Connect path (unary-server.ts).
 * Most handlers read none of it, so headers, signal and values are built only
 * when a handler asks for them.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { createContextValues, type HandlerContext } from '@connectrpc/connect';

export class UnaryHandlerContext implements HandlerContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly requestMethod = 'POST';
  readonly protocolName = 'connect';
  readonly url: string;
  readonly #headers: IncomingHttpHeaders;
  readonly #deadline: number | undefined;
  readonly #shutdownSignal: AbortSignal;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;
  #signal: AbortSignal | undefined;
  #values: HandlerContext['values'] | undefined;

  constructor(
    service: DescService,
    method: DescMethod,
    url: string,
    headers: IncomingHttpHeaders,
    deadline: number | undefined,
    shutdownSignal: AbortSignal,
  ) {
    this.method = method;
    this.service = service;
    this.url = url;
    this.#headers = headers;
    this.#deadline = deadline;
    this.#shutdownSignal = shutdownSignal;
  }

  get requestHeader(): Headers {
    if (!this.#requestHeader) {
      const headers = new Headers();
      for (const [name, value] of Object.entries(this.#headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
      }
      this.#requestHeader = headers;
    }
    return this.#requestHeader;
  }

  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  /**
   * What the handler set, as Connect unary sends it: headers as they are, trailers
   * as `trailer-<name>` headers. Undefined when it set nothing (the usual case).
   */
  responseMetadata(): Record<string, string> | undefined {
    if (this.#responseHeader === undefined && this.#responseTrailer === undefined) return undefined;
    const metadata: Record<string, string> = {};
    this.#responseHeader?.forEach((value, name) => {
      metadata[name] = value;
    });
    this.#responseTrailer?.forEach((value, name) => {
      metadata[`trailer-${name}`] = value;
    });
    return metadata;
  }

  get signal(): AbortSignal {
    if (!this.#signal) {
      const signals = [this.#shutdownSignal];
      if (this.#deadline !== undefined)
        signals.push(AbortSignal.timeout(Math.max(0, this.#deadline - Date.now())));
      this.#signal = AbortSignal.any(signals);
    }
    return this.#signal;
  }

  get values(): HandlerContext['values'] {
    this.#values ??= createContextValues();
    return this.#values;
  }

  timeoutMs = (): number | undefined =>
    this.#deadline === undefined ? undefined : this.#deadline - Date.now();
}
