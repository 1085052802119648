/**
 * Baselines (a) and the service of (b): bare node:http answering FindAvailable.
 * `POST /rpc` takes the gateway envelope `{service, method, request}` (one hop,
 * target a); any other POST takes the Specification itself (what the bare gateway
 * of target b forwards).
 */
import { createServer } from 'node:http';
import { listeningLine, onTerminate } from './child.ts';
import { findAvailable, vesselJson } from './vessels.ts';

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let status = 200;
    let body: string;
    try {
      const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      const spec = (req.url === '/rpc' ? parsed.request : parsed) as Record<string, number>;
      const vessel = findAvailable(spec.capacity ?? 0, spec.max_weight ?? spec.maxWeight ?? 0);
      if (vessel) body = JSON.stringify({ vessel: vesselJson(vessel) });
      else {
        status = 404;
        body = JSON.stringify({ code: 'not_found', message: 'no vessel available' });
      }
    } catch (error) {
      status = 400;
      body = JSON.stringify({ code: 'invalid_argument', message: (error as Error).message });
    }
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});

server.listen(0, '127.0.0.1', () => listeningLine(server.address()));
onTerminate(() => new Promise<void>((resolve) => server.close(() => resolve())));
