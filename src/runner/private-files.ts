/**
 * Files the local runner keeps are its user's only: folders 0700, files 0600. Other
 * local users must not read the database (its WAL holds password hashes and every
 * row), the state file (the control token and database password) or anything else
 * below the data dir.
 */
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Creates `dir` (and missing parents) 0700, or makes the folder already there 0700: the
 * runner's own folders are fixed, not refused (unlike the shared ones of local-trust.ts).
 */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Makes `dir` and everything below it owner-only: 0700 folders, 0600 files (execute
 * bits kept for the owner). Symbolic links are left alone, neither followed nor changed.
 * For trees written before this rule, or by code that sets modes of its own (PGlite's
 * initdb writes 0666 files whatever the umask).
 */
export function makeTreePrivate(dir: string): void {
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) makeTreePrivate(path);
    else if (entry.isFile()) chmodSync(path, lstatSync(path).mode & 0o700);
  }
}
