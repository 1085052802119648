import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HistoryEntry, outcomeOf } from '../../kube/release-history.ts';
import { byServiceCell, historyJson, renderHistory } from './history-table.ts';

const plain = (text: string) => text;

const entries: HistoryEntry[] = [
  {
    deploy: 1,
    time: '2026-12-03T15:54:15.123Z',
    environment: 'production',
    tags: { user: 'r1', vessel: 'r1', gateway: 'r1' },
    ok: true,
    revisions: { user: 1, vessel: 1, gateway: 1 },
  },
  {
    deploy: 2,
    time: '2026-12-03T15:55:01.456Z',
    environment: 'production',
    tags: { user: 'r1', vessel: 'never-ready-r2', gateway: 'r1' },
    ok: false,
    revisions: { user: 1, vessel: 3, gateway: 1 },
  },
  {
    deploy: 3,
    time: '2026-12-03T15:56:00.000Z',
    environment: 'production',
    tags: { user: 'r1', vessel: 'r2', gateway: 'r1' },
    ok: false,
    revisions: { vessel: 5 },
    action: 'canary-promote',
    canary: { service: 'vessel', tag: 'r2' },
  },
];

test('a value most services share is shown once, then the services that differ', () => {
  assert.equal(byServiceCell({ user: 'r1', vessel: 'r1', gateway: 'r1' }), 'r1');
  assert.equal(byServiceCell({ user: 'r1', vessel: 'r2', gateway: 'r1' }), 'r1, vessel=r2');
  // No value is shared by most (content tags differ per image): every service is named.
  assert.equal(byServiceCell({ user: 'a1', vessel: 'b2', gateway: 'c3' }), 'user=a1, vessel=b2, gateway=c3');
  assert.equal(
    byServiceCell({ user: 'r1', vessel: 'r1', email: 'r2', gateway: 'r2' }),
    'user=r1, vessel=r1, email=r2, gateway=r2',
  );
  // One service alone is named, or a bare "5" would read as every service's.
  assert.equal(byServiceCell({ vessel: 5 }), 'vessel=5');
  assert.equal(byServiceCell({}), '-');
});

test('the history table: one row per entry in order, with action, outcome, tags and revisions', () => {
  assert.equal(
    renderHistory(entries, { paint: plain }),
    [
      '#   TIME                   ENV          ACTION                  OUTCOME       TAGS                        REVISIONS',
      '1   2026-12-03T15:54:15Z   production   deploy                  ok            r1                          1',
      '2   2026-12-03T15:55:01Z   production   deploy                  rolled back   r1, vessel=never-ready-r2   1, vessel=3',
      '3   2026-12-03T15:56:00Z   production   canary-promote vessel   failed        r1, vessel=r2               vessel=5',
      '',
    ].join('\n'),
  );
});

test('for one service: its tag and its revision, "-" where an entry did not record it', () => {
  const table = renderHistory(entries, { service: 'user', paint: plain });
  const rows = table
    .trimEnd()
    .split('\n')
    .map((line) => line.split(/ {3,}/));
  assert.deepEqual(rows, [
    ['#', 'TIME', 'ENV', 'ACTION', 'OUTCOME', 'TAG', 'REVISION'],
    ['1', '2026-12-03T15:54:15Z', 'production', 'deploy', 'ok', 'r1', '1'],
    ['2', '2026-12-03T15:55:01Z', 'production', 'deploy', 'rolled back', 'r1', '1'],
    ['3', '2026-12-03T15:56:00Z', 'production', 'canary-promote vessel', 'failed', 'r1', '-'],
  ]);
});

test('outcomes are painted, and widths count the text only', () => {
  const painted = renderHistory(entries.slice(0, 2), { paint: (text, colour) => `<${colour}>${text}</>` });
  assert.match(painted, /<green>ok<\/> {12}r1/);
  assert.match(painted, /<yellow>rolled back<\/> {3}r1, vessel/);
});

test('JSON: each entry as recorded with its action and outcome said, narrowed to one service on request', () => {
  const [deploy, , promote] = historyJson(entries) as Array<Record<string, unknown>>;
  assert.deepEqual(deploy, { ...entries[0], action: 'deploy', outcome: 'ok' });
  assert.equal(promote!.outcome, 'failed');
  assert.deepEqual(
    (historyJson(entries, 'user') as HistoryEntry[]).map(({ tags, revisions }) => [tags, revisions]),
    [
      [{ user: 'r1' }, { user: 1 }],
      [{ user: 'r1' }, { user: 1 }],
      [{ user: 'r1' }, {}],
    ],
  );
});

test('a failed deploy whose rollback did not complete reads failed, not rolled back', () => {
  const [, rolledBack] = entries;
  assert.equal(outcomeOf(rolledBack!), 'rolled back');
  assert.equal(outcomeOf({ ...rolledBack!, undone: true }), 'rolled back');
  assert.equal(outcomeOf({ ...rolledBack!, undone: false }), 'failed');
});
