/** The `.eml` outbox holds people's mail: owner-only, whatever an earlier version left there. */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createMailer } from './mailer.ts';

test('outbox mails are written 0600 in a 0700 folder', async (t) => {
  const berthDataDir = mkdtempSync(join(tmpdir(), 'shippy-mailer-'));
  t.after(() => rmSync(berthDataDir, { recursive: true, force: true }));
  const outbox = join(berthDataDir, 'email', 'outbox');
  mkdirSync(outbox, { recursive: true });
  chmodSync(outbox, 0o755);

  const mailer = await createMailer({ berthDataDir });
  t.after(() => mailer.close());
  await mailer.send({
    id: 'evt-1',
    from: 'shippy@example.com',
    to: 'ada@example.com',
    subject: 'Welcome',
    text: 'Hello Ada',
    html: '<p>Hello Ada</p>',
  });
  assert.equal(mailer.target, outbox);
  assert.deepEqual(readdirSync(outbox), ['evt-1.eml']);
  assert.equal(statSync(outbox).mode & 0o777, 0o700);
  assert.equal(statSync(join(outbox, 'evt-1.eml')).mode & 0o777, 0o600);
});
