/**
 * The dashboard's request and response helpers: bodies read up to a limit, JSON
 * parsed with an error that says what was wrong, answers with the headers every
 * response carries (no caching of API answers, a CSP that allows only the
 * dashboard's own origin, no sniffing, no framing).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
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

/** A JSON body; 415 unless it says it is JSON, 400 naming the parse error. */
export async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
  limitBytes: number,
): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HttpError(415, `expected content-type application/json, got "${type || 'none'}"`);
  }
  const text = (await bodyOf(req, res, limitBytes)).toString('utf8');
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
