/**
 * warmCompileCache under `berth run --watch`: the preload every child is started with
 * (`--import`) is compiled with the entries, and a warm-up before a reload compiles the
 * changed file, so neither the first processes nor the reloaded one load Node's
 * TypeScript stripper. (The warm-up itself: test/runner/compile-cache.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { warmCompileCache } from './compile-cache.ts';
import type { Plan, PlannedProcess } from './plan.ts';

/** Runs the process as the runner would; says whether it loaded the type stripper. */
async function loadsStripper(planned: PlannedProcess): Promise<boolean> {
  const child = spawn(planned.command, planned.args, { cwd: planned.cwd, env: planned.env });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, out);
  return (JSON.parse(out) as { stripper: boolean }).stripper;
}

test('the --import preload and a changed file are compiled before the processes that load them start', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-compile-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const main = join(dir, 'main.ts');
  const lib = join(dir, 'lib.ts');
  // In a folder of its own: a neighbour of main.ts would be compiled with it anyway.
  mkdirSync(join(dir, 'preloads'));
  const preload = join(dir, 'preloads', 'preload.ts');
  writeFileSync(
    main,
    `import { answer } from './lib.ts';\n` +
      `const stripper = process.moduleLoadList.some((name) => name.includes('amaro'));\n` +
      `console.log(JSON.stringify({ answer: answer(), stripper }));\n`,
  );
  writeFileSync(lib, 'export const answer = (): number => 42;\n');
  writeFileSync(preload, 'const preloaded: boolean = true;\nexport default preloaded;\n');
  const gateway: PlannedProcess = {
    instance: 'gateway',
    command: process.execPath,
    args: ['--max-semi-space-size=2', main],
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: join(dir, 'cache') },
  };
  const plan: Plan = {
    registryDir: join(dir, 'registry'),
    logsDir: join(dir, 'logs'),
    gatewayPort: 0,
    units: [{ name: 'gateway', kind: 'gateway', deps: [], processes: [gateway] }],
    selected: ['gateway'],
    database: 'none',
    pglitePort: undefined,
    embeddedDatabaseUrl: undefined,
  };
  const watched: PlannedProcess = { ...gateway, args: ['--import', preload, ...gateway.args] };

  await warmCompileCache(plan, [watched]);
  assert.equal(await loadsStripper(watched), false, 'the preload was compiled with the entry');

  writeFileSync(lib, 'export const answer = (): number => 6 * 7;\n');
  await warmCompileCache(plan, [watched]);
  assert.equal(await loadsStripper(watched), false, 'the changed file was compiled before the reload');

  writeFileSync(lib, 'export const answer = (): number => 40 + 2;\n');
  assert.equal(await loadsStripper(watched), true, 'without the warm-up the changed file needs the stripper');
});
