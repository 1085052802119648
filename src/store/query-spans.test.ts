/**
 * A span per query of createPool's pools, against PGlite served over the wire, with
 * the real OpenTelemetry SDK exporting to memory (test/broker/tracing-sdk.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import type pg from 'pg';
import { type PgliteServer, startPgliteServer } from '../../test/broker/pglite-server.ts';
import { isChildOf, registerTestTracing, type TestTracing } from '../../test/broker/tracing-sdk.ts';
import { fileCleanup } from '../../test/support/cleanup.ts';
import { waitFor } from '../../test/support/wait.ts';
import { createPool, withTransaction } from './pool.ts';
import { operationName } from './query-spans.ts';

const cleanup = fileCleanup();
const secret = 'hunter2';
let pglite: PgliteServer;
let pool: pg.Pool;
let tracing: TestTracing;
let port: number;

before(async () => {
  pglite = await startPgliteServer();
  cleanup(() => pglite.stop());
  port = Number(new URL(pglite.url).port);
  tracing = registerTestTracing();
  cleanup(() => tracing.stop());
  pool = createPool(pglite.url, { max: 2 });
  cleanup(() => pool.end());
});

const tracer = () => trace.getTracer('test');

/** Runs `fn` in a span named `name`; resolves with the span once ended. */
async function inSpan(name: string, fn: () => Promise<unknown>): Promise<ReadableSpan> {
  let started: Span | undefined;
  await tracer().startActiveSpan(name, async (span) => {
    started = span;
    try {
      await fn();
    } finally {
      span.end();
    }
  });
  const id = started!.spanContext().spanId;
  return tracing.spans().find((s) => s.spanContext().spanId === id)!;
}

const queriesUnder = (parent: ReadableSpan) =>
  tracing.spans().filter((s) => s.kind === SpanKind.CLIENT && isChildOf(s, parent));

/** Whether `text` appears anywhere in what `span` records. */
function records(span: ReadableSpan, text: string): boolean {
  return JSON.stringify([span.name, span.attributes, span.status, span.events]).includes(text);
}

describe('query spans', () => {
  after(() => {
    for (const span of tracing.spans()) assert.ok(!records(span, secret), `${span.name} records a parameter`);
  });

  it('a query is a CLIENT span, child of the active span, with the SQL text and not its parameters', async () => {
    const request = await inSpan('request', () => pool.query('SELECT $1::text AS word', [secret]));
    const [query] = queriesUnder(request);
    assert.ok(query, 'a query span under the request');
    assert.equal(query.name, 'SELECT postgres');
    assert.deepEqual(query.attributes, {
      'db.system.name': 'postgresql',
      'db.namespace': 'postgres',
      'server.address': '127.0.0.1',
      'server.port': port,
      'db.query.text': 'SELECT $1::text AS word',
      'db.operation.name': 'SELECT',
    });
    assert.equal(query.status.code, SpanStatusCode.UNSET);
  });

  it("a transaction's queries are children of the active span", async () => {
    const request = await inSpan('request', () =>
      withTransaction(pool, async (tx) => {
        await tx.query('CREATE TEMP TABLE notes (body text)');
        await tx.query('INSERT INTO notes VALUES ($1)', [secret]);
      }),
    );
    assert.deepEqual(
      queriesUnder(request).map((s) => s.attributes['db.operation.name']),
      ['BEGIN', 'CREATE', 'INSERT', 'COMMIT'],
    );
  });

  it('a query that waited for a free connection is the child of its own caller, not of the releaser', async () => {
    const single = createPool(pglite.url, { max: 1 });
    cleanup(() => single.end());
    const release = Promise.withResolvers<void>();
    const holder = inSpan('holder', async () => {
      const client = await single.connect();
      await release.promise;
      // The waiting query's client is handed over from here, in the holder's context.
      client.release();
    });
    await waitFor(() => single.totalCount === 1 && single.idleCount === 0, { what: 'the connection lent' });
    const waiter = inSpan('waiter', () => single.query('SELECT 2'));
    await waitFor(() => single.waitingCount === 1, { what: 'the query to wait for a connection' });
    release.resolve();
    const [held, waited] = await Promise.all([holder, waiter]);
    assert.equal(queriesUnder(held).length, 0);
    assert.deepEqual(
      queriesUnder(waited).map((s) => s.attributes['db.query.text']),
      ['SELECT 2'],
    );
  });

  it('a failed query is an error span naming its SQLSTATE, never the server message that quotes the value', async () => {
    const request = await inSpan('request', () =>
      assert.rejects(pool.query('SELECT $1::integer', [secret]), /invalid input syntax/),
    );
    const [query] = queriesUnder(request);
    assert.equal(query.status.code, SpanStatusCode.ERROR);
    assert.equal(query.status.message, 'SQLSTATE 22P02');
    assert.equal(query.attributes['db.response.status_code'], '22P02');
    assert.ok(!records(query, secret));
  });

  it('a database that cannot be reached is an error span with berth’s own words', async () => {
    const gone = createPool('postgres://postgres:pw@127.0.0.1:1/app', { connectionTimeoutMs: 1000 });
    cleanup(() => gone.end());
    const request = await inSpan('request', () =>
      assert.rejects(gone.query('SELECT 1'), /database unavailable/),
    );
    const [query] = queriesUnder(request);
    assert.equal(query?.status.code, SpanStatusCode.ERROR);
    assert.equal(query.status.message, 'database unavailable: connection refused (127.0.0.1:1)');
    assert.equal(query.attributes['error.type'], 'unavailable');
    assert.equal(query.attributes['server.port'], 1);
    assert.ok(!records(query, 'pw'));
  });

  it('a query pg refuses at once (a null query) still ends its span, failed, and throws as pg does', async () => {
    const client = await pool.connect();
    cleanup(() => client.release());
    const request = await inSpan('request', async () => {
      await client.query('SELECT 5'); // the OpenTelemetry API loaded: the next query runs at once
      assert.throws(() => client.query(null as unknown as string), /null or undefined query/);
    });
    const [, query] = queriesUnder(request);
    assert.ok(query, 'an ended span for the null query under the request');
    assert.equal(query.status.code, SpanStatusCode.ERROR);
    assert.equal(query.attributes['error.type'], 'TypeError');
  });

  it('queries outside any span get none, unless the pool traces root queries', async () => {
    const before = tracing.spans().length;
    await pool.query('SELECT 3');
    assert.equal(tracing.spans().length, before);

    const roots = createPool(pglite.url, { max: 1, traceRootQueries: true });
    cleanup(() => roots.end());
    await roots.query('SELECT 4');
    const [root] = tracing.spans().filter((s) => s.attributes['db.query.text'] === 'SELECT 4');
    assert.equal(root?.parentSpanContext, undefined);
  });
});

describe('operationName', () => {
  it('is the first keyword, in capitals, past comments', () => {
    assert.equal(operationName('select 1'), 'SELECT');
    assert.equal(operationName('\n  -- why\n/* what */ WITH x AS (SELECT 1) SELECT * FROM x'), 'WITH');
    assert.equal(operationName('  '), undefined);
    assert.equal(operationName('-- only a comment'), undefined);
    assert.equal(operationName('/* unterminated SELECT'), undefined);
    assert.equal(operationName('/**/Insert/* x */'), 'INSERT');
  });

  it('scans long runs of comments in linear time', () => {
    // Runs of `/**/` made the former regex backtrack exponentially: 24 took 320 ms.
    const comments = '/**/'.repeat(20_000);
    assert.equal(operationName(`${comments}1`), undefined);
    assert.equal(operationName(`${comments} update t`), 'UPDATE');
    assert.equal(operationName(`${'-- x\n'.repeat(20_000)}delete`), 'DELETE');
    assert.equal(operationName(`${'/*'.repeat(20_000)}select`), undefined);
  });
});
