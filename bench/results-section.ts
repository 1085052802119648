/** The measured results of a benchmark in docs/benchmarks.md, between markers of its own. */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const benchmarksDoc = join(resolve(import.meta.dirname, '..'), 'docs', 'benchmarks.md');

/** Replaces bench `name`'s results section of docs/benchmarks.md (the text around it is kept); returns the path. */
export async function writeResultsSection(name: string, report: string): Promise<string> {
  const begin = `<!-- bench:${name} results begin (written by \`npm run bench:${name} -- --write\`) -->`;
  const end = `<!-- bench:${name} results end -->`;
  const current = await readFile(benchmarksDoc, 'utf8');
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  if (from < 0 || to < from)
    throw new Error(`${benchmarksDoc} has no ${name} results section (the ${begin} … ${end} markers)`);
  await writeFile(benchmarksDoc, `${current.slice(0, from + begin.length)}\n${report}\n${current.slice(to)}`);
  return benchmarksDoc;
}
