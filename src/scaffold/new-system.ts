/**
 * `berth new system`: a runnable system in a new or empty folder: berth.yaml,
 * package.json, README, shared configs/, one example service (with its code
 * already generated, so `npm install && npm start` needs no generate step).
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { nameProblem } from './names.ts';
import { type AddedService, templateContext, tryGenerate, writeService } from './new-service.ts';
import { berthDependency, systemPackageJson } from './package-json.ts';
import { renderTree } from './render.ts';

/** The example service of a new system. */
export const EXAMPLE_SERVICE = 'greeter';

export interface NewSystemOptions {
  /** Folder to write, absolute; created when missing, refused when not empty. */
  readonly dir: string;
  /** The system's name; default the folder's name. */
  readonly system?: string;
  /** A local berth checkout to depend on (`file:`) instead of berth's published version. */
  readonly berthPath?: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

function existingEntries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export function newSystem(options: NewSystemOptions): AddedService {
  const { dir } = options;
  const system = options.system ?? basename(dir);
  const problem = nameProblem(system, 'system');
  if (problem) {
    throw new Error(options.system === undefined ? `${problem}; or name it with --name <system>` : problem);
  }
  const berthSpec = berthDependency(options.berthPath);
  const entries = existingEntries(dir);
  if (entries.length > 0) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
    throw new Error(
      `${dir} is not empty (it has ${shown}): berth new system writes into a new or empty folder; to add a service to an existing system, use berth new service <name> --in <system dir>`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const files = renderTree(
    join(import.meta.dirname, 'templates', 'system'),
    dir,
    templateContext(system, EXAMPLE_SERVICE, []),
  );
  writeFileSync(join(dir, 'package.json'), systemPackageJson(system, berthSpec), { flag: 'wx' });
  files.push('package.json');
  const service = writeService(dir, system, EXAMPLE_SERVICE, []);
  const all = [...new Set([...files, ...service.files])].sort();
  return { system, files: all, generateError: tryGenerate(dir, options.env) };
}
