/**
 * connectrpc.conformance.v1.ConformanceService as a berth service implements it:
 * each method answers as its request's response definition says (data, headers,
 * trailers, delay, error) and echoes what it received (headers, timeout, the
 * requests themselves as google.protobuf.Any). Behaviour from the suite's
 * docs/testing_servers.md; the reference is connect-es's packages/connect-conformance.
 */
import { create } from '@bufbuild/protobuf';
import { type Any, anyPack } from '@bufbuild/protobuf/wkt';
import type { HandlerContext, ServiceImpl } from '@connectrpc/connect';
import { type Code, ConnectError } from 'berth';
import {
  BidiStreamRequestSchema,
  ClientStreamRequestSchema,
  type Error as ConformanceError,
  type ConformancePayload_RequestInfo,
  ConformancePayload_RequestInfoSchema,
  ConformancePayloadSchema,
  type ConformanceService,
  type Header,
  HeaderSchema,
  IdempotentUnaryRequestSchema,
  ServerStreamRequestSchema,
  type StreamResponseDefinition,
  UnaryRequestSchema,
  type UnaryResponseDefinition,
} from './gen/connectrpc/conformance/v1/service_pb.js';

export const conformanceService: Partial<ServiceImpl<typeof ConformanceService>> = {
  unary: (request, context) =>
    answerOnce(request.responseDefinition, [anyPack(UnaryRequestSchema, request)], context),
  idempotentUnary: (request, context) =>
    answerOnce(request.responseDefinition, [anyPack(IdempotentUnaryRequestSchema, request)], context),
  async clientStream(requests, context) {
    let definition: UnaryResponseDefinition | undefined;
    const received: Any[] = [];
    for await (const request of requests) {
      // Only the first message's definition counts.
      if (received.length === 0) definition = request.responseDefinition;
      received.push(anyPack(ClientStreamRequestSchema, request));
    }
    return answerOnce(definition, received, context);
  },
  async *serverStream(request, context) {
    const definition = request.responseDefinition;
    setMetadata(context, definition);
    const received = [anyPack(ServerStreamRequestSchema, request)];
    let first = true;
    for (const data of definition?.responseData ?? []) {
      await delay(definition?.responseDelayMs ?? 0, context);
      yield { payload: payload(data, first ? requestInfo(context, received) : undefined) };
      first = false;
    }
    if (definition?.error)
      throw failure(definition.error, first ? requestInfo(context, received) : undefined);
  },
  async *bidiStream(requests, context) {
    let definition: StreamResponseDefinition | undefined;
    let fullDuplex = false;
    let sent = 0;
    let received: Any[] = [];
    for await (const request of requests) {
      if (definition === undefined && received.length === 0 && sent === 0) {
        definition = request.responseDefinition;
        fullDuplex = request.fullDuplex;
        setMetadata(context, definition);
      }
      received.push(anyPack(BidiStreamRequestSchema, request));
      if (!fullDuplex) continue;
      // Full duplex: one answer per request, each echoing the requests since the last answer.
      if (definition === undefined || sent >= definition.responseData.length) break;
      await delay(definition.responseDelayMs, context);
      yield { payload: payload(definition.responseData[sent], requestInfo(context, received)) };
      sent++;
      received = [];
    }
    // Half duplex (nothing sent yet), or more answers asked for than requests came.
    const info = requestInfo(context, received);
    for (; sent < (definition?.responseData.length ?? 0); sent++) {
      await delay(definition?.responseDelayMs ?? 0, context);
      yield { payload: payload(definition?.responseData[sent], sent === 0 ? info : undefined) };
    }
    if (definition?.error) {
      throw failure(definition.error, definition.responseData.length === 0 ? info : undefined);
    }
  },
  // `unimplemented` is left out: berth must answer it Unimplemented by itself.
};

async function answerOnce(
  definition: UnaryResponseDefinition | undefined,
  received: Any[],
  context: HandlerContext,
) {
  setMetadata(context, definition);
  const info = requestInfo(context, received);
  if (definition?.response.case === 'error') throw failure(definition.response.value, info);
  await delay(definition?.responseDelayMs ?? 0, context);
  return {
    payload: payload(
      definition?.response.case === 'responseData' ? definition.response.value : undefined,
      info,
    ),
  };
}

function setMetadata(
  context: HandlerContext,
  definition: { responseHeaders: Header[]; responseTrailers: Header[] } | undefined,
): void {
  append(context.responseHeader, definition?.responseHeaders ?? []);
  append(context.responseTrailer, definition?.responseTrailers ?? []);
}

function append(headers: Headers, from: Header[]): void {
  for (const header of from) for (const value of header.value) headers.append(header.name, value);
}

function requestInfo(context: HandlerContext, received: Any[]): ConformancePayload_RequestInfo {
  const requestHeaders: Header[] = [];
  context.requestHeader.forEach((value, name) => {
    requestHeaders.push(create(HeaderSchema, { name, value: [value] }));
  });
  const timeoutMs = context.timeoutMs();
  return create(ConformancePayload_RequestInfoSchema, {
    requestHeaders,
    requests: received,
    ...(timeoutMs === undefined ? {} : { timeoutMs: BigInt(timeoutMs) }),
    ...(context.requestMethod === 'GET' ? { connectGetInfo: connectGetInfo(context.url) } : {}),
  });
}

function connectGetInfo(url: string) {
  const queryParams: Header[] = [];
  new URL(url, 'http://localhost').searchParams.forEach((value, name) => {
    const existing = queryParams.find((param) => param.name === name);
    if (existing) existing.value.push(value);
    else queryParams.push(create(HeaderSchema, { name, value: [value] }));
  });
  return { queryParams };
}

function payload(data: Uint8Array | undefined, info: ConformancePayload_RequestInfo | undefined) {
  return create(ConformancePayloadSchema, {
    ...(data === undefined ? {} : { data }),
    ...(info === undefined ? {} : { requestInfo: info }),
  });
}

/** The error asked for, with the request info as its last detail when there is one to echo. */
function failure(error: ConformanceError, info: ConformancePayload_RequestInfo | undefined): ConnectError {
  const failed = new ConnectError(error.message ?? '', error.code as number as Code);
  // As they came (already packed), so any type the test chose survives.
  for (const detail of [
    ...error.details,
    ...(info ? [anyPack(ConformancePayload_RequestInfoSchema, info)] : []),
  ]) {
    failed.details.push({
      type: detail.typeUrl.slice(detail.typeUrl.lastIndexOf('/') + 1),
      value: detail.value,
    });
  }
  return failed;
}

/** The response delay asked for; a handler whose deadline passes meanwhile gives up, as any should. */
function delay(ms: number, context: HandlerContext): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    context.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(context.signal.reason);
    });
  });
}
