/**
 * Which proto services each service of a system serves, for the
 * `berth.dev/proto-services` annotation that typed clients and the gateway's
 * pass-through find instances by (DESIGN.md §3). Kubernetes cannot ask a pod,
 * so it is decided when the manifests are rendered:
 *
 *  - `serves: [...]` in berth.yaml, when given (an empty list: no RPC methods);
 *  - otherwise every `service` declared in the system's `.proto` files whose
 *    package is `<system>.<name>` or below it (`shippy.vessel.v1`), `-` in either
 *    name standing as `_` (proto names have no `-`).
 *
 * A service for which neither says anything is an error: rendered without proto
 * services, its pods would be found by no typed call (503 "no instance").
 */
import { type Dirent, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { SystemFile } from '../config/system-file.ts';
import { parseProtoDeclarations } from './proto-file.ts';

/** Folders no system keeps its contracts in: dependencies and build output (dot folders too: .berth, .git). */
const skippedFolders = new Set(['node_modules', 'dist']);

/** `.proto` files below `dir`, in name order; symbolic links are not followed (no cycles to guard against). */
function protoFilesUnder(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    // A service folder that does not exist holds no contracts; rendering needs no sources.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory())
        return entry.name.startsWith('.') || skippedFolders.has(entry.name) ? [] : protoFilesUnder(path);
      return entry.isFile() && entry.name.endsWith('.proto') ? [path] : [];
    });
}

/**
 * The folders searched: the system's root, and the folder of any service that
 * lies outside it (its contracts may sit beside it).
 */
function searchedFolders(system: SystemFile): string[] {
  const inside = (dir: string) => {
    const path = relative(system.root, dir);
    return path !== '..' && !path.startsWith(`..${sep}`) && !isAbsolute(path);
  };
  const outside = Object.values(system.services)
    .map((service) => service.dir)
    .filter((dir) => !inside(dir));
  return [system.root, ...new Set(outside)];
}

/** Fully-qualified services declared in the folders, by package. */
function declaredServices(folders: readonly string[]): Map<string, Set<string>> {
  const byPackage = new Map<string, Set<string>>();
  for (const file of [...new Set(folders.flatMap(protoFilesUnder))]) {
    const declared = parseProtoDeclarations(readFileSync(file, 'utf8'), file);
    const services = byPackage.get(declared.package) ?? new Set();
    for (const service of declared.services)
      services.add(declared.package === '' ? service : `${declared.package}.${service}`);
    byPackage.set(declared.package, services);
  }
  return byPackage;
}

const asProtoName = (name: string) => name.replaceAll('-', '_');

/** Proto services of every service of the system, by service name, each list sorted. */
export function protoServicesOf(system: SystemFile): Record<string, readonly string[]> {
  const services = Object.values(system.services);
  const folders = searchedFolders(system);
  // Read the .proto files only if some service relies on them.
  const declared = services.every((service) => service.serves !== undefined)
    ? new Map<string, Set<string>>()
    : declaredServices(folders);
  const result: Record<string, readonly string[]> = {};
  for (const service of services) {
    if (service.serves !== undefined) {
      result[service.name] = [...service.serves].sort();
      continue;
    }
    const own = `${asProtoName(system.system)}.${asProtoName(service.name)}`;
    const found = [...declared]
      .filter(([protoPackage]) => protoPackage === own || protoPackage.startsWith(`${own}.`))
      .flatMap(([, names]) => [...names]);
    if (found.length === 0) {
      throw new Error(
        `service "${service.name}" serves no proto service: no .proto file in ${folders.join(', ')} ` +
          `declares a service in package ${own} or ${own}.*; declare one there, or list what it serves ` +
          `as services.${service.name}.serves in ${system.file} (serves: [] for a service without RPC methods)`,
      );
    }
    result[service.name] = found.sort();
  }
  return result;
}
