/**
 * The dashboard's request and response helpers: bodies read up to a limit, JSON
 * parsed with an error that says what was wrong, answers with the headers every
 * response carries (no caching of API answers, a CSP that allows only the
 * dashboard's own origin, no sniffing, no framing).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

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

export function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
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

/** The whole body, or HttpError 413 once it passes `limitBytes` (the rest is not read). */
export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limitBytes) throw new HttpError(413, `request body over ${limitBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new HttpError(413, `request body over ${limitBytes} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A JSON body; 415 unless it says it is JSON, 400 naming the parse error. */
export async function readJson(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `expected content-type application/json, got "${type || 'none'}"`);
  }
  const text = (await readBody(req, limitBytes)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the body is not JSON: ${(error as Error).message}`);
  }
}

/** A list of service names in `{"services": [...]}`, else HttpError 400. */
export function servicesOf(body: unknown): string[] {
  const services = (body as { services?: unknown } | null)?.services;
  if (!Array.isArray(services) || services.length === 0 || !services.every((s) => typeof s === 'string')) {
    throw new HttpError(400, 'expected {"services": ["<name>", ...]}');
  }
  return services;
}
