/**
 * The server under test for connectconformance (--mode server): reads a
 * size-delimited ServerCompatRequest from stdin, starts ConformanceService as a
 * berth service, and writes where it listens as a ServerCompatResponse.
 * BERTH_CONFORMANCE_TARGET=gateway puts a berth gateway in front of it and
 * answers with the gateway's address, so every case goes through the gateway.
 */
import { readFileSync } from 'node:fs';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { Gateway, MemoryRegistry, Service } from 'berth';
import { conformanceService } from './conformance-service.ts';
import {
  ServerCompatRequestSchema,
  ServerCompatResponseSchema,
} from './gen/connectrpc/conformance/v1/server_compat_pb.js';
import { ConformanceService } from './gen/connectrpc/conformance/v1/service_pb.js';

const input = readFileSync(process.stdin.fd);
const request = fromBinary(ServerCompatRequestSchema, input.subarray(4, 4 + input.readUInt32BE(0)));
if (request.useTls) throw new Error('the berth conformance server does not do TLS (config.yaml says so)');
const limit = request.messageReceiveLimit > 0 ? request.messageReceiveLimit : undefined;

const registry = new MemoryRegistry();
const service = new Service({ name: 'conformance', registry, bodyLimitBytes: limit }).handle(
  ConformanceService,
  conformanceService,
);
await service.start();
let address = { host: '127.0.0.1', port: Number(service.instance?.address.split(':')[1]) };
if (process.env.BERTH_CONFORMANCE_TARGET === 'gateway') {
  // The message limit is the service's to enforce. The gateway keeps its default: over
  // HTTP/1.1 it limits whole bodies, and a stream of messages each at the limit is larger.
  const gateway = new Gateway({ registry, port: 0 });
  address = await gateway.start();
}

const response = toBinary(ServerCompatResponseSchema, create(ServerCompatResponseSchema, address));
const prefix = Buffer.alloc(4);
prefix.writeUInt32BE(response.length);
process.stdout.write(Buffer.concat([prefix, response]));
// The runner sends SIGTERM once its cases are done: nothing is left to drain.
process.on('SIGTERM', () => process.exit(0));
