/**
 * Baseline (b): a bare node:http gateway. It parses the `/rpc` envelope and
 * forwards `request` to the bare service at UPSTREAM (host:port) over keep-alive
 * undici connections, then relays the answer: the least a JSON gateway must do.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { listeningLine, onTerminate, requiredEnv } from './child.ts';

const pool = new Pool(`http://${requiredEnv('UPSTREAM')}`, { connections: 128, pipelining: 1 });

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const send = (status: number, body: string | Buffer) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', async () => {
    let envelope: { service?: unknown; method?: unknown; request?: unknown };
    try {
      envelope = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      send(400, '{"detail":"body is not JSON"}');
      return;
    }
    if (typeof envelope.service !== 'string' || typeof envelope.method !== 'string') {
      send(400, '{"detail":"service and method are required"}');
      return;
    }
    try {
      const answer = await pool.request({
        method: 'POST',
        path: `/${envelope.service}/${envelope.method}`,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(envelope.request ?? {}),
      });
      send(answer.statusCode, Buffer.from(await answer.body.arrayBuffer()));
    } catch (error) {
      send(502, JSON.stringify({ detail: (error as Error).message }));
    }
  });
});

server.listen(0, '127.0.0.1', () => listeningLine(server.address()));
onTerminate(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await pool.close();
});
