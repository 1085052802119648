/**
 * The web UI's files: the precompressed .br or .gz written at build time, chosen
 * by Accept-Encoding (with `Vary: Accept-Encoding`), hashed assets cached for a
 * year, and index.html revalidated every time, also where it answers an unknown
 * route of the single-page app.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { get, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { Gateway } from '../../src/gateway/gateway.ts';
import { MemoryRegistry } from '../../src/registry/memory-registry.ts';
import { fileCleanup } from '../support/cleanup.ts';

const after = fileCleanup();
const script = Buffer.from(`console.log(${JSON.stringify('x'.repeat(4096))});\n`);
const page = Buffer.from(`<!doctype html><script src="/assets/index-3f2a1b.js"></script>${' '.repeat(2048)}`);
let base: string;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'berth-test-static-'));
  after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'assets'));
  // Each variant's content says which it is, so the test sees which file was sent.
  for (const [name, content] of [
    ['index.html', page],
    ['assets/index-3f2a1b.js', script],
  ] as const) {
    await writeFile(join(dir, name), content);
    await writeFile(join(dir, `${name}.br`), brotliCompressSync(content));
    await writeFile(join(dir, `${name}.gz`), gzipSync(content));
  }
  await writeFile(join(dir, 'favicon.svg'), '<svg/>');
  const registry = new MemoryRegistry();
  const gateway = new Gateway({ registry, port: 0, staticDir: dir });
  const { port } = await gateway.start();
  after(() => gateway.stop(1_000));
  base = `http://127.0.0.1:${port}`;
});

/** A GET whose body is returned as sent: fetch would decode it. */
function rawGet(path: string, acceptEncoding?: string) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const headers = acceptEncoding === undefined ? {} : { 'accept-encoding': acceptEncoding };
    get(`${base}${path}`, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    }).on('error', reject);
  });
}

const immutable = 'public, max-age=31536000, immutable';

test('a hashed asset is sent precompressed as the client accepts, cached for a year', async () => {
  const expected = [
    { accept: 'gzip, deflate, br, zstd', encoding: 'br', body: brotliCompressSync(script) },
    { accept: 'gzip', encoding: 'gzip', body: gzipSync(script) },
    { accept: undefined, encoding: undefined, body: script },
  ];
  for (const { accept, encoding, body } of expected) {
    const response = await rawGet('/assets/index-3f2a1b.js', accept);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-encoding'], encoding, String(accept));
    assert.match(response.headers['content-type'] ?? '', /javascript/);
    assert.equal(response.headers.vary, 'Accept-Encoding');
    assert.equal(response.headers['cache-control'], immutable);
    assert.deepEqual(response.body, body);
  }
});

test('index.html, also as the answer to an unknown route of the app, must be revalidated', async () => {
  for (const path of ['/', '/index.html', '/vessels/42', '/assets/no-extension']) {
    const response = await rawGet(path, 'br');
    assert.equal(response.status, 200, path);
    assert.equal(response.headers['content-encoding'], 'br', path);
    assert.equal(response.headers['cache-control'], 'no-cache', path);
    assert.equal(response.headers.vary, 'Accept-Encoding', path);
    assert.deepEqual(response.body, brotliCompressSync(page), path);
  }
  // Files outside /assets/ keep their names across builds: revalidated too.
  const icon = await rawGet('/favicon.svg', 'br');
  assert.equal(icon.headers['content-encoding'], undefined);
  assert.equal(icon.headers['cache-control'], 'no-cache');
  // A missing asset is a 404, never index.html under a cache-forever header.
  assert.equal((await rawGet('/assets/index-000000.js')).status, 404);
});
