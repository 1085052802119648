/**
 * `berth generate`: the system's proto/ compiled into gen/ by buf and
 * protoc-gen-es, as berth's own `npm run generate` does. Both tools are looked
 * for in the system's node_modules first (its package.json lists them), then in
 * berth's own, then on PATH.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { berthRoot } from './package-json.ts';

const TOOLS = { buf: '@bufbuild/buf', 'protoc-gen-es': '@bufbuild/protoc-gen-es' } as const;

/** The template berth new writes; used for a system that has no buf.gen.yaml of its own. */
const DEFAULT_BUF_GEN = join(import.meta.dirname, 'templates', 'system', 'buf.gen.yaml');

export function findTool(
  name: keyof typeof TOOLS,
  systemDir: string,
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const dirs = [
    join(systemDir, 'node_modules', '.bin'),
    join(berthRoot, 'node_modules', '.bin'),
    ...(env.PATH ?? '').split(delimiter).filter(Boolean),
  ];
  return dirs.map((dir) => join(dir, name)).find((path) => existsSync(path));
}

function missingTool(name: keyof typeof TOOLS, systemDir: string): Error {
  return new Error(
    `cannot find ${name} (npm package ${TOOLS[name]}): run "npm install" in ${systemDir}, whose package.json lists it as a devDependency (add it with "npm install -D ${TOOLS[name]}" if not), or put ${name} on PATH`,
  );
}

/**
 * Regenerates `<systemDir>/gen` from `<systemDir>/proto`, removing what a deleted
 * .proto had generated. Throws with buf's own message when a .proto is wrong.
 */
export function generateCode(systemDir: string, env: Readonly<Record<string, string | undefined>>): void {
  if (!existsSync(join(systemDir, 'proto'))) {
    throw new Error(
      `no proto/ folder in ${systemDir}: berth generate compiles the .proto files under proto/ into gen/ (the layout berth new writes)`,
    );
  }
  const buf = findTool('buf', systemDir, env);
  if (!buf) throw missingTool('buf', systemDir);
  const plugin = findTool('protoc-gen-es', systemDir, env);
  if (!plugin) throw missingTool('protoc-gen-es', systemDir);
  const own = join(systemDir, 'buf.gen.yaml');
  const template = existsSync(own) ? own : DEFAULT_BUF_GEN;
  const result = spawnSync(buf, ['generate', 'proto', '--template', template, '--clean'], {
    cwd: systemDir,
    // buf finds plugins on PATH.
    env: { ...env, PATH: [dirname(plugin), env.PATH].filter(Boolean).join(delimiter) },
    encoding: 'utf8',
  });
  if (result.error) throw new Error(`cannot run ${buf}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`buf generate failed in ${systemDir}:\n${(result.stderr || result.stdout).trim()}`);
  }
}
