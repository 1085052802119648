/**
 * Immutable image tags derived from content: the same sources give the same tag,
 * any change gives a new one. So a deploy of unchanged code changes nothing, and
 * a Deployment's image always names exactly what runs (never `latest`, never a
 * timestamp, as the original article's UPDATED_AT trick did).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Folders never part of an image under a copied folder: dev state, build output, tests. */
const skippedFolders = ['node_modules', '.berth', '.git', 'dist', 'test-results', 'coverage', 'test'];
const skippedFolderSet = new Set(skippedFolders);
/** Test files beside the code they test (`*.test.ts` next to the module) are not shipped either. */
const isTestFile = (name: string) => /\.test\.[jt]s$/.test(name);

/**
 * The same exclusions for the image build (`<Dockerfile>.dockerignore`), so an
 * image holds exactly the files its tag was computed from. `keep` are folders
 * copied whole although their name is excluded (the web UI's `dist`): a start
 * folder of `contentTag` is always taken whole.
 */
export function imageDockerignore(keep: readonly string[] = []): string {
  return [
    ...skippedFolders.map((folder) => `**/${folder}`),
    '**/*.test.ts',
    '**/*.test.js',
    ...keep.map((path) => `!${path}`),
    '',
  ].join('\n');
}

function collectFiles(dir: string, into: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries.sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory() && !skippedFolderSet.has(name)) collectFiles(path, into);
    else if (stat.isFile() && !isTestFile(name)) into.push(path);
  }
}

/**
 * 12 hex digits of a SHA-256 over the reference of the base image the image is
 * built FROM and the relative paths and bytes of every file under `paths`. The
 * base counts by its reference text alone: a tag such as `node:24-bookworm-slim`
 * may point at new bytes tomorrow while the tag stays; `name@sha256:…` cannot.
 */
export function contentTag(root: string, paths: readonly string[], baseImage: string): string {
  const hash = createHash('sha256');
  hash.update(`FROM ${baseImage}\0`);
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
