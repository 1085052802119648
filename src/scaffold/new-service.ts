/**
 * `berth new service`: a service's files rendered from ./templates (its proto,
 * handlers, settings, test; the shared database or broker wiring when it uses
 * them and the system has none yet), its entry in berth.yaml, and its generated code.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSystemFile, RESOURCE_KINDS, type ResourceKind } from '../config/system-file.ts';
import { addServiceEntry } from './berth-yaml.ts';
import { generateCode } from './codegen.ts';
import { camelCase, nameProblem, pascalCase, snakeCase } from './names.ts';
import { renderTree, type TemplateContext } from './render.ts';

const TEMPLATES = join(import.meta.dirname, 'templates');

/** The placeholders and flags of the templates, for `service` of `system`. */
export function templateContext(
  system: string,
  service: string,
  uses: readonly ResourceKind[],
): TemplateContext {
  return {
    tokens: {
      system,
      system_pkg: snakeCase(system),
      service,
      service_pkg: snakeCase(service),
      Service: pascalCase(service),
      serviceVar: camelCase(service),
    },
    flags: new Set([...uses, ...(uses.length === 0 ? ['plain'] : [])]),
  };
}

/** `--uses postgres,nats` as a list, or an error naming what berth does not provide. */
export function parseUses(value: string | undefined): ResourceKind[] {
  const names = (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  for (const name of names) {
    if (!(RESOURCE_KINDS as readonly string[]).includes(name)) {
      throw new Error(`--uses: berth provides ${RESOURCE_KINDS.join(' and ')}, not "${name}"`);
    }
  }
  return [...new Set(names)] as ResourceKind[];
}

export interface ServiceFiles {
  /** Paths written, relative to the system folder. */
  readonly files: string[];
}

/**
 * Writes `service`'s files into the system at `systemDir` and its entry into
 * berth.yaml, without checking the name (addService does) or generating code.
 */
export function writeService(
  systemDir: string,
  system: string,
  service: string,
  uses: readonly ResourceKind[],
): ServiceFiles {
  const context = templateContext(system, service, uses);
  const files = renderTree(join(TEMPLATES, 'service'), systemDir, context);
  for (const kind of uses) {
    // A service folder is new, so only the shared configs/ files can be there already.
    files.push(...renderTree(join(TEMPLATES, kind), systemDir, context, { keepExisting: true }));
  }
  addServiceEntry(join(systemDir, 'berth.yaml'), service, uses);
  files.push('berth.yaml');
  return { files };
}

export interface AddServiceOptions {
  /** The system's folder (holding berth.yaml), absolute. */
  readonly systemDir: string;
  readonly service: string;
  readonly uses: readonly ResourceKind[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface AddedService extends ServiceFiles {
  readonly system: string;
  /** Why code could not be generated (no buf yet), when it could not; the files are written anyway. */
  readonly generateError?: string;
}

/** Refuses a bad, reserved or taken name before writing anything. */
export function addService(options: AddServiceOptions): AddedService {
  const { systemDir, service, uses } = options;
  const problem = nameProblem(service, 'service');
  if (problem) throw new Error(problem);
  if (!existsSync(join(systemDir, 'berth.yaml'))) {
    throw new Error(
      `no berth.yaml in ${systemDir}: run berth new service in a system's folder, or pass --in <system dir> (berth new system <dir> makes one)`,
    );
  }
  const system = loadSystemFile(systemDir);
  if (service in system.services) {
    throw new Error(
      `${system.system} already has a service "${service}" (in berth.yaml); choose another name`,
    );
  }
  const context = templateContext(system.system, service, uses);
  const proto = `proto/${context.tokens.system_pkg}/${context.tokens.service_pkg}`;
  for (const path of [service, proto]) {
    if (existsSync(join(systemDir, path))) {
      throw new Error(
        `${join(systemDir, path)} already exists, though berth.yaml has no service "${service}"; remove it or choose another name`,
      );
    }
  }
  const written = writeService(systemDir, system.system, service, uses);
  return {
    system: system.system,
    files: written.files.sort(),
    generateError: tryGenerate(systemDir, options.env),
  };
}

/** generateCode, its failure as a message: the files are useful without it, and it can be rerun. */
export function tryGenerate(
  systemDir: string,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  try {
    generateCode(systemDir, env);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
