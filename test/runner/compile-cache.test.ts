/**
 * warmCompileCache (src/runner/compile-cache.ts): before `berth run` starts its
 * processes, one process loads their files without running them and fills Node's
 * compile cache, so the processes that start next never load the TypeScript stripper
 * (Node's amaro, which stays resident once loaded).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { warmCompileCache } from '../../src/runner/compile-cache.ts';
import type { Plan, PlannedProcess } from '../../src/runner/plan.ts';
import { childEnv } from './berth-run.ts';

let dir: string;
let app: string;

/**
 * An entry that says, once its dynamic import is done, whether Node loaded the type
 * stripper; every module leaves a mark when it runs.
 */
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-compile-cache-'));
  app = join(dir, 'app');
  await mkdir(app);
  const mark = (name: string) =>
    `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(join(dir, `ran-${name}`))}, '');\n`;
  writeFileSync(
    join(app, 'main.ts'),
    `${mark('main')}import { double } from './lib.ts';\n` +
      `const { triple } = await import('./lazy.ts');\n` +
      `const stripper = process.moduleLoadList.some((name) => name.includes('amaro'));\n` +
      `console.log(JSON.stringify({ answer: triple(double(7)), stripper }));\n`,
  );
  writeFileSync(join(app, 'lib.ts'), `${mark('lib')}export const double = (n: number): number => n * 2;\n`);
  writeFileSync(join(app, 'lazy.ts'), `${mark('lazy')}export const triple = (n: number): number => n * 3;\n`);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A plan whose gateway runs app/main.ts with `cache` as its compile cache. */
function planFor(cache: string): Plan {
  const gateway: PlannedProcess = {
    instance: 'gateway',
    command: process.execPath,
    args: ['--max-semi-space-size=2', join(app, 'main.ts')],
    cwd: app,
    env: childEnv({ NODE_COMPILE_CACHE: cache }),
  };
  return {
    registryDir: join(dir, 'registry'),
    logsDir: join(dir, 'logs'),
    gatewayPort: 0,
    units: [{ name: 'gateway', kind: 'gateway', deps: [], processes: [gateway] }],
    selected: ['gateway'],
    database: 'none',
    pglitePort: undefined,
    embeddedDatabaseUrl: undefined,
  };
}

/** Runs the plan's gateway process as the runner would, and returns what it printed. */
async function runGateway(plan: Plan): Promise<{ answer: number; stripper: boolean }> {
  const planned = plan.units[0]!.processes[0]!;
  const child = spawn(planned.command, planned.args, { cwd: planned.cwd, env: planned.env });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk;
  });
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, out);
  return JSON.parse(out);
}

const marks = () => readdirSync(dir).filter((name) => name.startsWith('ran-'));

test('without the warm-up a process on an empty cache loads the type stripper', async () => {
  const plan = planFor(join(dir, 'cold-cache'));
  assert.deepEqual(await runGateway(plan), { answer: 42, stripper: true });
  await rm(join(dir, 'cold-cache'), { recursive: true, force: true });
  for (const name of marks()) await rm(join(dir, name));
});

test('the warm-up runs none of the code, and the process after it needs no type stripper', async () => {
  const plan = planFor(join(dir, 'cache'));
  await warmCompileCache(plan);
  assert.deepEqual(marks(), [], 'no module ran during the warm-up');
  assert.ok(existsSync(join(dir, 'cache')), 'the compile cache was written');
  // lazy.ts is loaded only by import(): the warm-up found it beside main.ts.
  assert.deepEqual(await runGateway(plan), { answer: 42, stripper: false });
  assert.deepEqual(marks().sort(), ['ran-lazy', 'ran-lib', 'ran-main']);
});

test('a file that does not compile stops neither the warm-up of the others nor the run', async () => {
  for (const name of marks()) await rm(join(dir, name));
  const broken = join(app, 'broken.ts');
  writeFileSync(broken, 'export const = ;\n');
  try {
    const plan = planFor(join(dir, 'cache-beside-broken'));
    await warmCompileCache(plan);
    assert.deepEqual(marks(), []);
    assert.deepEqual(await runGateway(plan), { answer: 42, stripper: false });
  } finally {
    await rm(broken);
  }
});
