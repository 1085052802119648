/**
 * shippy end to end: tracing. `berth run examples/shippy` with
 * OTEL_EXPORTER_OTLP_ENDPOINT pointing at an OTLP/HTTP JSON receiver of this file's
 * own (node:http, below), as any OTLP backend would receive them:
 *   - a consignment Create through the gateway is ONE trace, with spans from the
 *     gateway, consignment, vessel and user, each span's parent in the trace;
 *   - a user Create's welcome mail (email's `process user.created`) is in the
 *     Create's trace, also when email was stopped and the event waited in the outbox.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { before, describe, test } from 'node:test';
import { BerthRun, berth, rpc } from '../../../../test/runner/berth-run.ts';
import { fileCleanup } from '../../../../test/support/cleanup.ts';
import { waitFor } from '../../../../test/support/wait.ts';
import { backends, emailOf, ok, password, threeContainers } from './support.ts';

interface ReceivedSpan {
  readonly service: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
}

interface OtlpAttribute {
  readonly key: string;
  readonly value: { readonly stringValue?: string };
}

/** An OTLP/HTTP JSON trace receiver: keeps every span it is sent, with its resource's service.name. */
async function otlpReceiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/json') {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      for (const { resource, scopeSpans } of body.resourceSpans ?? []) {
        const attributes = (resource?.attributes ?? []) as OtlpAttribute[];
        const service = attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '?';
        for (const { spans: batch } of scopeSpans ?? []) {
          for (const span of batch ?? [])
            spans.push({ service, ...span, parentSpanId: span.parentSpanId ?? '' });
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

/** A `traceparent` of a new trace the test starts, so it knows which trace a call is in. */
function newTrace(): { traceId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
}

describe(`shippy tracing (${backends})`, () => {
  const cleanup = fileCleanup();
  let run: BerthRun;
  let receiver: Awaited<ReturnType<typeof otlpReceiver>>;
  let users = 0;

  const inTrace = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);

  /** Signs up a user inside a trace of the test's own: its token and the trace's id. */
  async function signUp(): Promise<{ token: string; traceId: string; email: string }> {
    users += 1;
    const email = emailOf(900 + users);
    const { traceId, traceparent } = newTrace();
    const request = { name: `Traced ${users}`, company: 'Shippy E2E', email, password };
    const body = ok(
      await rpc(run.gateway, { service: 'user', method: 'UserService.Create', request }, { traceparent }),
    );
    return { token: body.token as string, traceId, email };
  }

  before(async () => {
    receiver = await otlpReceiver();
    cleanup(() => new Promise((closed) => receiver.server.close(closed)));
    run = await BerthRun.start({
      target: 'examples/shippy',
      cleanup,
      readyTimeoutMs: 180_000,
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        // Exported within a fifth of a second of ending, not the SDK's default 5 s.
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
    });
  });

  test('a consignment Create through the gateway is one trace across gateway, consignment, vessel and user', async () => {
    const { token } = await signUp();
    const { traceId, traceparent } = newTrace();
    const created = ok(
      await rpc(
        run.gateway,
        {
          service: 'consignment',
          method: 'ConsignmentService.Create',
          request: { description: 'traced cargo', weight: 55_000, containers: threeContainers },
        },
        { authorization: `Bearer ${token}`, traceparent },
      ),
    );
    assert.equal(created.created, true);
    const callees = ['consignment', 'vessel', 'user'];
    // Each service exports on its own schedule: a CLIENT span can arrive before the SERVER
    // span it is the child of, a second root until then. Waits for the whole trace: a
    // gateway span, a server span of each callee and one span without its parent in the
    // trace (the assertions' last failure is what a timeout reports).
    const { root } = await waitFor(
      () => {
        const spans = inTrace(traceId);
        const seen = spans.map((span) => `${span.service}: ${span.name}`).join('; ');
        assert.ok(
          spans.some((span) => span.service === 'gateway'),
          `a span of the gateway: ${seen}`,
        );
        for (const service of callees) {
          assert.ok(
            spans.some((span) => span.service === service && span.name.startsWith('shippy.')),
            `a server span of ${service}: ${seen}`,
          );
        }
        const ids = new Set(spans.map((span) => span.spanId));
        const roots = spans.filter((span) => !ids.has(span.parentSpanId));
        assert.equal(roots.length, 1, `one span without its parent in the trace: ${seen}`);
        return { root: roots[0] };
      },
      { timeoutMs: 30_000, what: `the whole trace ${traceId}` },
    );
    // The one span without a parent in the trace is the gateway's, child of the test's traceparent.
    assert.equal(`${root.service}: ${root.name}`, 'gateway: POST /rpc');
    assert.equal(root.parentSpanId, traceparent.split('-')[2]);
  });

  test('a user Create’s welcome mail is in the Create’s trace, also when email was stopped meanwhile', async () => {
    const emailSpansOf = (traceId: string) => inTrace(traceId).filter((span) => span.service === 'email');
    const first = await signUp();
    await waitFor(() => emailSpansOf(first.traceId).length > 0, {
      timeoutMs: 30_000,
      what: 'email’s spans in the first Create’s trace',
    });

    const env = { BERTH_DATA_DIR: run.dataDir };
    const stopped = await berth(['stop', 'email'], env);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(run.pids('email'), []);
    const whileStopped = await signUp();
    // The user's own spans arrive; email's cannot, no email process runs.
    await waitFor(() => inTrace(whileStopped.traceId).some((span) => span.service === 'user'), {
      timeoutMs: 30_000,
      what: 'user’s spans of the Create made while email was stopped',
    });
    assert.deepEqual(emailSpansOf(whileStopped.traceId), []);

    const started = await berth(['start', 'email'], env);
    assert.equal(started.code, 0, started.stderr);
    // Every span of email's is joined to the trace: its parent (user's publish) is in it too.
    const joined = () => {
      const trace = inTrace(whileStopped.traceId);
      const ids = new Set(trace.map((span) => span.spanId));
      const email = trace.filter((span) => span.service === 'email');
      return (
        email.some((span) => span.name === 'process user.created') &&
        email.every((span) => ids.has(span.parentSpanId))
      );
    };
    await waitFor(joined, {
      timeoutMs: 60_000,
      what: 'email’s processing of the event that waited, joined to its Create’s trace',
    });
  });
});
