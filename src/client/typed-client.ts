/**
 * A typed client for one proto service: `client(VesselService).findAvailable(req)`.
 * Calls go through a ServiceCaller as Connect unary with binary protobuf; the
 * instances are those registered as serving the proto service, whatever their name.
 */
import {
  create,
  type DescMethodUnary,
  type DescService,
  type MessageInitShape,
  type MessageShape,
  toBinary,
} from '@bufbuild/protobuf';
import { MethodOptions_IdempotencyLevel } from '@bufbuild/protobuf/wkt';
import { contentTypeProto, readUnaryResponse } from '../protocol/connect-unary.ts';
import type { ServiceCaller } from './caller.ts';

export interface CallOptions {
  /** Metadata, e.g. `{ authorization: 'Bearer …' }`; keys are case-insensitive. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

type UnaryMethods<S extends DescService> = {
  [K in keyof S['method'] as S['method'][K] extends DescMethodUnary ? K : never]: S['method'][K];
};

export type TypedClient<S extends DescService> = {
  [K in keyof UnaryMethods<S>]: UnaryMethods<S>[K] extends DescMethodUnary<infer I, infer O>
    ? (request: MessageInitShape<I>, options?: CallOptions) => Promise<MessageShape<O>>
    : never;
};

export interface TypedClientOptions {
  /** Call only instances of this service name (by default: any instance serving the proto service). */
  readonly service?: string;
}

export function createTypedClient<S extends DescService>(
  caller: ServiceCaller,
  schema: S,
  options: TypedClientOptions = {},
): TypedClient<S> {
  const client: Record<string, unknown> = {};
  for (const method of schema.methods) {
    if (method.methodKind !== 'unary') continue;
    const path = `/${schema.typeName}/${method.name}`;
    const idempotent = method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
    client[method.localName] = async (
      request: MessageInitShape<DescMethodUnary['input']>,
      callOptions?: CallOptions,
    ) => {
      const bytes = toBinary(method.input, create(method.input, request));
      const response = await caller.call({
        service: options.service,
        protoService: schema.typeName,
        path,
        contentType: contentTypeProto,
        body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        headers: callOptions?.headers,
        timeoutMs: callOptions?.timeoutMs,
        signal: callOptions?.signal,
        idempotent,
      });
      return readUnaryResponse(method.output, 'proto', response);
    };
  }
  return client as TypedClient<S>;
}
