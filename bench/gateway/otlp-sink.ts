/**
 * Target (g)'s trace backend: takes OTLP/HTTP exports (protobuf or JSON), reads
 * each body whole and drops it, answering as a collector does, so the cost of
 * making, batching and sending spans is counted in berth's processes. It runs
 * niced (below normal priority), so that on a loaded machine it takes CPU from
 * the measured processes only when they leave some.
 */
import { createServer } from 'node:http';
import { constants, setPriority } from 'node:os';
import { listeningLine, onTerminate } from './child.ts';

setPriority(constants.priority.PRIORITY_BELOW_NORMAL);

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    // An empty ExportTraceServiceResponse: zero bytes in protobuf, `{}` in JSON.
    const json = req.headers['content-type'] === 'application/json';
    res.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
    res.end(json ? '{}' : '');
  });
});

server.listen(0, '127.0.0.1', () => listeningLine(server.address()));
onTerminate(() => new Promise<void>((resolve) => server.close(() => resolve())));
