/**
 * The dashboard's request and response helpers: bodies read up to a limit (gzip
 * ones inflated up to it too), JSON parsed with an error that says what was wrong,
 * answers with the headers every response carries (no caching of API answers, a
 * CSP that allows only the dashboard's own origin, no sniffing, no framing).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createGunzip } from 'node:zlib';
import { readBody } from '../service/read-body.ts';

/** An answer other than 200, with the message the client sees. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export const securityHeaders = {
  'content-security-policy':
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Uint8Array,
): void {
  res.writeHead(status, {
    ...securityHeaders,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(body));
}

/**
 * A 200 of newline-delimited JSON (application/x-ndjson): each of `lines` written as
 * it comes, so the client reads it before the next. Once the client has gone, the
 * rest is read (so `lines` can finish its work) and not written.
 */
export async function sendNdjson(res: ServerResponse, lines: AsyncIterable<unknown>): Promise<void> {
  res.writeHead(200, {
    ...securityHeaders,
    'content-type': 'application/x-ndjson; charset=utf-8',
    'cache-control': 'no-store',
  });
  res.flushHeaders();
  for await (const line of lines) {
    if (res.destroyed) continue;
    if (!res.write(`${JSON.stringify(line)}\n`)) await drainedOrClosed(res);
  }
  res.end();
}

function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * The whole body, or HttpError 413 once it passes `limitBytes`: the rest is not
 * read, and the connection closes gently after the answer (src/service/read-body.ts),
 * so a client still sending reads the 413 rather than a reset.
 */
export function bodyOf(req: IncomingMessage, res: ServerResponse, limitBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    readBody(req, res, limitBytes, {
      onBody: resolve,
      onTooLarge: () => reject(new HttpError(413, `request body over ${limitBytes} bytes`)),
    });
    req.once('close', () => {
      if (!req.complete) reject(new Error('the client went away before sending the whole body'));
    });
  });
}

/**
 * The body as it was before its `Content-Encoding`: identity (or none), or gzip,
 * which the OpenTelemetry SDKs send with OTEL_EXPORTER_OTLP_COMPRESSION=gzip; any
 * other is a 415. The limit holds for the bytes received and again for what they
 * inflate to, and inflating stops there: a small body that would inflate to
 * gigabytes (a gzip bomb) costs `limitBytes` and is a 413. Corrupt gzip is a 400.
 */
export async function decodedBodyOf(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return bodyOf(req, res, limitBytes);
  if (encoding !== 'gzip') {
    throw new HttpError(
      415,
      `content-encoding "${encoding}" is not read here: send gzip or identity ` +
        '(OTEL_EXPORTER_OTLP_COMPRESSION=gzip or none)',
    );
  }
  // Received first, within the limit, as any body is (bodyOf: past it, a 413 the client
  // still reads), then inflated: the limit bounds both, and the memory to at most twice it.
  return gunzipWithin(await bodyOf(req, res, limitBytes), limitBytes);
}

async function gunzipWithin(compressed: Buffer, limitBytes: number): Promise<Buffer> {
  const gunzip = createGunzip();
  gunzip.end(compressed);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    // Leaving the loop (the throw) destroys the stream: zlib inflates no further than the chunk read.
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limitBytes) {
        throw new HttpError(
          413,
          `request body over ${limitBytes} bytes once inflated (content-encoding gzip)`,
        );
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(
      400,
      `the body is not valid gzip (content-encoding gzip): ${(error as Error).message}`,
    );
  }
  return Buffer.concat(chunks, size);
}

/** The body as JSON, else HttpError 400 naming the parser's complaint. */
export function jsonOf(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `the body is not JSON: ${(error as Error).message}`);
  }
}

/** The request's Content-Type without its parameters (`; charset=…`), in lower case; `''` without one. */
export function mediaTypeOf(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** A JSON body; 415 unless it says it is JSON, 400 naming the parse error. */
export async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
): Promise<unknown> {
  const type = mediaTypeOf(req);
  if (type !== 'application/json') {
    throw new HttpError(415, `expected content-type application/json, got "${type || 'none'}"`);
  }
  return jsonOf(await bodyOf(req, res, limitBytes));
}

/** A list of service names in `{"services": [...]}`, else HttpError 400. */
export function servicesOf(body: unknown): string[] {
  const services = (body as { services?: unknown } | null)?.services;
  if (!Array.isArray(services) || services.length === 0 || !services.every((s) => typeof s === 'string')) {
    throw new HttpError(400, 'expected {"services": ["<name>", ...]}');
  }
  return services;
}
