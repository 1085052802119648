/**
 * Immutable image tags derived from content: the same sources give the same tag,
 * any change gives a new one. So a deploy of unchanged code changes nothing, and
 * a Deployment's image always names exactly what runs (never `latest`, never a
 * timestamp, as the original article's UPDATED_AT trick did).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const skipped = new Set(['node_modules', '.berth', '.git', 'dist', 'test-results', 'coverage']);

function collectFiles(dir: string, into: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries.sort()) {
    if (skipped.has(name)) continue;
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) collectFiles(path, into);
    else if (stat.isFile()) into.push(path);
  }
}

/** 12 hex digits of a SHA-256 over the relative paths and bytes of every file under `paths`. */
export function contentTag(root: string, paths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const start of [...paths].sort()) {
    const files: string[] = [];
    const stat = statSync(start, { throwIfNoEntry: false });
    if (stat?.isFile()) files.push(start);
    else if (stat?.isDirectory()) collectFiles(start, files);
    for (const file of files) {
      hash.update(relative(root, file));
      hash.update('\0');
      hash.update(readFileSync(file));
      hash.update('\0');
    }
  }
  return hash.digest('hex').slice(0, 12);
}
