/**
 * The release history (release-history.ts) as `berth rollout history` shows it:
 * a table, oldest first as recorded, or the entries as JSON; for the whole
 * system or for one service.
 */
import { actionOf, type HistoryEntry, type HistoryOutcome, outcomeOf } from '../../kube/release-history.ts';
import type { Colour, Paint } from './colour.ts';
import { type Cell, renderTable } from './table.ts';

const outcomeColours: Record<HistoryOutcome, Colour> = {
  ok: 'green',
  'rolled back': 'yellow',
  failed: 'red',
};

/**
 * One value per service in a cell: a value most services share (two or more, over
 * half) once, then the services that differ, as `r1, vessel=r2`; `-` for none.
 * Listing every service at its tag would make each row wider than a terminal,
 * while a release usually moves one or two services away from the rest.
 */
export function byServiceCell(values: Readonly<Record<string, string | number>>): string {
  const pairs = Object.entries(values).map(([name, value]) => [name, String(value)] as const);
  if (pairs.length === 0) return '-';
  const counts = new Map<string, number>();
  for (const [, value] of pairs) counts.set(value, (counts.get(value) ?? 0) + 1);
  const [common, count] = [...counts].reduce((most, next) => (next[1] > most[1] ? next : most));
  const shared = count >= 2 && count * 2 > pairs.length ? common : undefined;
  const others = pairs.filter(([, value]) => value !== shared).map(([name, value]) => `${name}=${value}`);
  return (shared === undefined ? others : [shared, ...others]).join(', ');
}

/** `2026-12-03T15:54:15.123Z` → `2026-12-03T15:54:15Z`: to the second is what a reader compares. */
const timeCell = (time: string) => time.replace(/\.\d+Z$/, 'Z');

/** The action, with the canary's service: a promotion moves one service only. */
const actionCell = (entry: HistoryEntry) =>
  entry.canary ? `${actionOf(entry)} ${entry.canary.service}` : actionOf(entry);

/**
 * The table: per entry its number, time, environment, action, outcome, and the
 * tags and revisions (of every service, or of `service` alone: `-` where an entry
 * did not record its revision, as a canary entry of another service does not).
 */
export function renderHistory(
  entries: readonly HistoryEntry[],
  options: { readonly service?: string; readonly paint: Paint },
): string {
  const { service, paint } = options;
  const header = [
    '#',
    'TIME',
    'ENV',
    'ACTION',
    'OUTCOME',
    ...(service ? ['TAG', 'REVISION'] : ['TAGS', 'REVISIONS']),
  ];
  const rows = entries.map((entry): Cell[] => {
    const outcome = outcomeOf(entry);
    return [
      String(entry.deploy),
      timeCell(entry.time),
      entry.environment,
      actionCell(entry),
      { text: outcome, paint: (text) => paint(text, outcomeColours[outcome]) },
      service ? (entry.tags[service] ?? '-') : byServiceCell(entry.tags),
      service ? String(entry.revisions[service] ?? '-') : byServiceCell(entry.revisions),
    ];
  });
  return renderTable(header, rows);
}

/** What `--output json` prints per entry: as recorded, with its action and outcome said, narrowed to `service`. */
export function historyJson(entries: readonly HistoryEntry[], service?: string): object[] {
  const only = <T>(values: Readonly<Record<string, T>>) =>
    service === undefined ? values : service in values ? { [service]: values[service] } : {};
  return entries.map((entry) => ({
    ...entry,
    action: actionOf(entry),
    outcome: outcomeOf(entry),
    tags: only(entry.tags),
    revisions: only(entry.revisions),
  }));
}
