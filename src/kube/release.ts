/**
 * A release: the system file resolved for one environment plus the image tag of
 * every service and of the gateway, derived from what goes into each image: its
 * files and the base image it is built on. Nothing else in berth.yaml (replicas,
 * registry, namespace, env) changes a tag, so changing those redeploys no image.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SystemFile } from '../config/system-file.ts';
import { contentTag } from './content-tag.ts';

/** The berth package's own folder: its runtime (src/) and lockfile go into every image. */
export const berthRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Release {
  readonly system: SystemFile;
  readonly tags: Readonly<Record<string, string>>;
}

/** Relative module specifiers in `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')`. */
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() === true;
}

/**
 * Folders a service's code imports besides its own (its `gen/`, shared
 * `configs/` and the like), found by following relative imports from the entry
 * file: exactly the shared code its image needs, and nothing another service
 * alone uses. A folder next to berth.yaml is taken whole (all of `gen/`); code
 * elsewhere (a service kept outside its berth.yaml's folder) by the directory
 * imported. berth's own src/ goes into every image whole, so imports into it
 * are not followed; neither are imports into node_modules, installed by `npm ci`.
 */
function sharedFolders(system: SystemFile, name: string): string[] {
  const service = system.services[name]!;
  const inside = (root: string, path: string) => path === root || path.startsWith(root + sep);
  const berthSource = join(berthRoot, 'src');
  const followed = (path: string) => !inside(berthSource, path) && !path.split(sep).includes('node_modules');
  const folderOf = (file: string) =>
    inside(system.root, file) ? join(system.root, relative(system.root, file).split(sep)[0]!) : dirname(file);
  const folders = new Set<string>();
  const seen = new Set<string>();
  const pending = [service.entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (seen.has(file) || !isFile(file)) continue;
    seen.add(file);
    if (!inside(service.dir, file)) folders.add(folderOf(file));
    if (!/\.[cm]?[jt]sx?$/.test(file)) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = resolve(dirname(file), match[1]!);
      if (followed(target)) pending.push(target);
    }
  }
  return [...folders].sort();
}

function runtimeInputs(): string[] {
  return [join(berthRoot, 'src'), join(berthRoot, 'package.json'), join(berthRoot, 'package-lock.json')];
}

/** Every path whose content makes up the image of `name` (a service or `gateway`). */
export function imageInputs(system: SystemFile, name: string): string[] {
  if (name === 'gateway') {
    return [
      ...runtimeInputs(),
      ...(system.gateway.static && existsSync(system.gateway.static) ? [system.gateway.static] : []),
    ];
  }
  const service = system.services[name];
  if (!service) throw new Error(`no service "${name}" in ${system.file}`);
  return [...runtimeInputs(), ...sharedFolders(system, name), service.dir];
}

/**
 * An image tag that is also a valid label value (the tag is the
 * `app.kubernetes.io/version` label): alphanumerics, `.`, `_`, `-`, at most 63.
 */
const TAG = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$/;

/**
 * Tags given on the command line (`--tag 1.4.2` for every image, `--tag vessel=1.4.2`
 * for one), for images built elsewhere (a CI that tags by commit) or to pin a
 * release while the sources change. A named tag wins over a tag for all.
 */
export function parseTagOverrides(
  values: readonly string[],
  names: readonly string[],
): Record<string, string> {
  const all: Record<string, string> = {};
  const named: Record<string, string> = {};
  for (const value of values) {
    const [name, tag] = value.includes('=') ? value.split('=', 2) : [undefined, value];
    if (!TAG.test(tag!)) {
      throw new Error(
        `--tag ${value}: "${tag}" is not a usable image tag (letters, digits, ".", "_", "-"; starts and ends with a letter or digit; ≤ 63)`,
      );
    }
    if (name === undefined) {
      for (const each of names) all[each] = tag!;
    } else if (names.includes(name)) {
      named[name] = tag!;
    } else {
      throw new Error(`--tag ${value}: no image "${name}"; images: ${names.join(', ')}`);
    }
  }
  return { ...all, ...named };
}

/** The images a system is made of: one per service, and the gateway's. */
export function imageNames(system: SystemFile): string[] {
  return [...Object.keys(system.services), 'gateway'];
}

export function createRelease(system: SystemFile, overrides: Readonly<Record<string, string>> = {}): Release {
  const tags: Record<string, string> = {};
  for (const name of imageNames(system)) {
    tags[name] = overrides[name] ?? contentTag(berthRoot, imageInputs(system, name), system.build.base);
  }
  return { system, tags };
}

/** Path of `path` inside the build context (berth's root), for COPY lines. */
export function contextPath(path: string): string {
  const inside = relative(berthRoot, path);
  if (inside.startsWith('..')) throw new Error(`${path} is outside the build context ${berthRoot}`);
  return inside;
}
