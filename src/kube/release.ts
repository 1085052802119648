/**
 * A release: the system file resolved for one environment plus the image tag of
 * every service and of the gateway, derived from what goes into each image.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SystemFile } from '../config/system-file.ts';
import { contentTag } from './content-tag.ts';

/** The berth package's own folder: its runtime (src/) and lockfile go into every image. */
export const berthRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Release {
  readonly system: SystemFile;
  readonly tags: Readonly<Record<string, string>>;
}

/** Folders shared by a system's services: generated code and contracts next to berth.yaml. */
function sharedFolders(system: SystemFile): string[] {
  return ['gen', 'proto'].map((name) => join(system.root, name)).filter((path) => existsSync(path));
}

function runtimeInputs(): string[] {
  return [join(berthRoot, 'src'), join(berthRoot, 'package.json'), join(berthRoot, 'package-lock.json')];
}

/** Every path whose content makes up the image of `name` (a service or `gateway`). */
export function imageInputs(system: SystemFile, name: string): string[] {
  if (name === 'gateway') {
    return [...runtimeInputs(), ...(system.gateway.static ? [system.gateway.static] : [])];
  }
  const service = system.services[name];
  if (!service) throw new Error(`no service "${name}" in ${system.file}`);
  return [...runtimeInputs(), ...sharedFolders(system), service.dir];
}

export function createRelease(system: SystemFile): Release {
  const tags: Record<string, string> = {};
  for (const name of [...Object.keys(system.services), 'gateway']) {
    tags[name] = contentTag(berthRoot, imageInputs(system, name));
  }
  return { system, tags };
}

/** Path of `path` inside the build context (berth's root), for COPY lines. */
export function contextPath(path: string): string {
  const inside = relative(berthRoot, path);
  if (inside.startsWith('..')) throw new Error(`${path} is outside the build context ${berthRoot}`);
  return inside;
}
