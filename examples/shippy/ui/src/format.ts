/** Numbers, weights and counts as the pages show them: `190,000 kg`, `1 container`, `3 containers`. */

export function formatNumber(value: number | undefined): string {
  return (value ?? 0).toLocaleString('en');
}

/** Weights are kilograms everywhere in shippy's API. */
export function formatKg(value: number | undefined): string {
  return `${formatNumber(value)} kg`;
}

/** `count(1, 'container')` → `1 container`; `count(3, 'container')` → `3 containers`. */
export function count(value: number, noun: string): string {
  return `${formatNumber(value)} ${value === 1 ? noun : `${noun}s`}`;
}

/** An RFC 3339 time as `2 Dec 2026, 07:30`, in the reader's time zone; empty when there is none. */
export function formatTime(rfc3339: string | undefined): string {
  if (!rfc3339) return '';
  const time = new Date(rfc3339);
  if (Number.isNaN(time.getTime())) return '';
  return time.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}
