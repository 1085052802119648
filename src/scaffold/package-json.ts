/**
 * The package.json of a new system. Versions are berth's own, so a system starts
 * on the versions berth is tested with (and npm finds them in its cache).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where berth's own package.json is: two folders up from src/scaffold. */
export const berthRoot = join(import.meta.dirname, '..', '..');

interface PackageManifest {
  readonly name: string;
  readonly version: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

export function readManifest(dir: string): PackageManifest | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageManifest;
  } catch {
    return undefined;
  }
}

/** What a system's code imports directly (berth's own dependencies stay berth's). */
const RUNTIME = ['@bufbuild/protobuf', '@connectrpc/connect', 'zod'];
/**
 * `node`: Node 24 for the npm scripts whatever node runs npm (npm puts
 * node_modules/.bin first on the scripts' PATH), as berth's own package.json does.
 * buf and protoc-gen-es for `berth generate`; typescript and @types/node for `npm run check`.
 */
const DEVELOPMENT = ['node', '@bufbuild/buf', '@bufbuild/protoc-gen-es', 'typescript', '@types/node'];

function pick(names: readonly string[], berth: PackageManifest): Record<string, string> {
  const all = { ...berth.dependencies, ...berth.devDependencies };
  return Object.fromEntries(names.map((name) => [name, all[name]!]));
}

/** package.json text for `system`, depending on berth as `berthSpec` (`^0.1.0`, `file:/path/to/berth`). */
export function systemPackageJson(system: string, berthSpec: string): string {
  const berth = readManifest(berthRoot)!;
  const manifest = {
    name: system,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      start: 'berth run',
      test: 'node --test',
      check: 'tsc',
      generate: 'berth generate',
    },
    dependencies: { berth: berthSpec, ...pick(RUNTIME, berth) },
    devDependencies: pick(DEVELOPMENT, berth),
    // The two packages that fetch a platform binary when installed.
    allowScripts: { node: true, '@bufbuild/buf': true },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** How a new system depends on berth: this berth's published version, or a local checkout. */
export function berthDependency(localPath: string | undefined): string {
  if (localPath === undefined) return `^${readManifest(berthRoot)!.version}`;
  if (readManifest(localPath)?.name !== 'berth') {
    throw new Error(`--berth ${localPath}: no berth package there (expected a package.json named "berth")`);
  }
  return `file:${localPath}`;
}
