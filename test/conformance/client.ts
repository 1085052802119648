/**
 * The client under test for connectconformance (--mode client): reads
 * size-delimited ClientCompatRequests from stdin, makes each call with berth's
 * ServiceCaller (what typed clients and the gateway call through: Connect unary,
 * JSON or binary, over HTTP/1.1) to the suite's reference server, and writes a
 * ClientCompatResponse per call. What berth's client supports: client-config.yaml.
 */
import { create, createRegistry, fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, MemoryRegistry, RegistryCache, ServiceCaller } from 'berth';
import { readUnaryResponse } from '../../src/protocol/connect-unary.ts';
import {
  type ClientCompatRequest,
  ClientCompatRequestSchema,
  ClientCompatResponseSchema,
  type ClientResponseResult,
  ClientResponseResultSchema,
} from './gen/connectrpc/conformance/v1/client_compat_pb.js';
import { Codec } from './gen/connectrpc/conformance/v1/config_pb.js';
import {
  ConformancePayloadSchema,
  ErrorSchema,
  file_connectrpc_conformance_v1_service,
  HeaderSchema,
  IdempotentUnaryRequestSchema,
  IdempotentUnaryResponseSchema,
  UnaryRequestSchema,
  UnaryResponseSchema,
  UnimplementedRequestSchema,
  UnimplementedResponseSchema,
} from './gen/connectrpc/conformance/v1/service_pb.js';

const methods = {
  Unary: { input: UnaryRequestSchema, output: UnaryResponseSchema, idempotent: false },
  IdempotentUnary: {
    input: IdempotentUnaryRequestSchema,
    output: IdempotentUnaryResponseSchema,
    idempotent: true,
  },
  Unimplemented: {
    input: UnimplementedRequestSchema,
    output: UnimplementedResponseSchema,
    idempotent: false,
  },
} as const;

/** What the suite's JSON names in Any fields: its own messages. */
const types = createRegistry(file_connectrpc_conformance_v1_service);

const registry = new MemoryRegistry();
const cache = new RegistryCache(registry);
await cache.start();
const caller = new ServiceCaller({ cache, protocol: 'http' });
/** The reference server, registered once per address as a berth instance. */
const registered = new Map<string, Promise<void>>();

/** Resolves once the caller's registry cache lists the instance at `address`. */
function known(address: string): Promise<void> {
  const listed = () => cache.all().some((instance) => instance.address === address);
  if (listed()) return Promise.resolve();
  return new Promise((resolve) => {
    const off = cache.onChange(() => {
      if (!listed()) return;
      off();
      resolve();
    });
  });
}

function reference(address: string, protoService: string): Promise<void> {
  let ready = registered.get(address);
  if (!ready) {
    ready = registry
      .register({
        id: address,
        name: 'reference',
        version: '0',
        address,
        protoServices: [protoService],
        metadata: {},
      })
      .then(() => known(address));
    registered.set(address, ready);
  }
  return ready;
}

async function call(request: ClientCompatRequest): Promise<ClientResponseResult> {
  const method = methods[request.method as keyof typeof methods];
  if (!method) throw new Error(`berth's client calls unary methods only, not ${request.method}`);
  const address = `${request.host}:${request.port}`;
  await reference(address, request.service ?? '');
  const message = anyUnpack(request.requestMessages[0]!, method.input);
  if (!message) throw new Error(`request_messages[0] is not a ${method.input.typeName}`);
  const json = request.codec === Codec.JSON;
  const body = json
    ? JSON.stringify(toJson(method.input, message as never, { registry: types }))
    : Buffer.from(toBinary(method.input, message as never));
  const headers: Record<string, string> = {};
  for (const header of request.requestHeaders) headers[header.name.toLowerCase()] = header.value.join(', ');
  const abort = new AbortController();
  const cancel = request.cancel?.cancelTiming;
  if (cancel?.case === 'afterCloseSendMs') setTimeout(() => abort.abort(), cancel.value);
  if (cancel?.case === 'beforeCloseSend') abort.abort();
  const result = create(ClientResponseResultSchema);
  try {
    const response = await caller.call({
      protoService: request.service,
      path: `/${request.service}/${request.method}`,
      contentType: json ? 'application/json' : 'application/proto',
      body,
      headers,
      timeoutMs: request.timeoutMs,
      sendDeadline: request.timeoutMs !== undefined,
      signal: abort.signal,
      idempotent: method.idempotent,
    });
    result.httpStatusCode = response.status;
    for (const [name, value] of Object.entries(response.headers)) {
      if (value === undefined) continue;
      const values = Array.isArray(value) ? value : [value];
      const header = create(HeaderSchema, { name: name.replace(/^trailer-/, ''), value: values });
      (name.startsWith('trailer-') ? result.responseTrailers : result.responseHeaders).push(header);
    }
    // As the typed client reads an answer (a Connect error, or the message).
    const output = readUnaryResponse(method.output, json ? 'json' : 'proto', response, types);
    // An empty answer is still one message: its payload is empty, not absent.
    result.payloads.push(('payload' in output && output.payload) || create(ConformancePayloadSchema));
  } catch (error) {
    const failed =
      error instanceof ConnectError ? error : new ConnectError((error as Error).message, Code.Unknown);
    result.error = create(ErrorSchema, {
      code: failed.code as number,
      message: failed.rawMessage,
      details: failed.details.map((detail) => ({
        typeUrl: `type.googleapis.com/${'type' in detail ? detail.type : detail.desc.typeName}`,
        value: 'type' in detail ? detail.value : toBinary(detail.desc, create(detail.desc, detail.value)),
      })),
    });
  }
  return result;
}

function write(bytes: Uint8Array): void {
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(bytes.length);
  process.stdout.write(Buffer.concat([prefix, bytes]));
}

const pending: Promise<void>[] = [];
let buffered = Buffer.alloc(0);
for await (const chunk of process.stdin) {
  buffered = Buffer.concat([buffered, chunk as Buffer]);
  while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
    const size = buffered.readUInt32BE(0);
    const request = fromBinary(ClientCompatRequestSchema, buffered.subarray(4, 4 + size));
    buffered = buffered.subarray(4 + size);
    pending.push(
      call(request).then(
        (response) =>
          write(
            toBinary(
              ClientCompatResponseSchema,
              create(ClientCompatResponseSchema, {
                testName: request.testName,
                result: { case: 'response', value: response },
              }),
            ),
          ),
        (error: unknown) =>
          write(
            toBinary(
              ClientCompatResponseSchema,
              create(ClientCompatResponseSchema, {
                testName: request.testName,
                result: { case: 'error', value: { message: (error as Error).message } },
              }),
            ),
          ),
      ),
    );
  }
}
await Promise.all(pending);
await caller.close();
await cache.close();
