#!/usr/bin/env node
// berth is written in TypeScript that Node runs directly from 22.18 on (type
// stripping). On an older Node, re-run with the Node 24 that npm installed
// (the `node` devDependency), so `berth` works whatever node is first on PATH.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  await import(main);
} else {
  const bundled = join(root, 'node_modules', 'node', 'bin', 'node');
  if (!existsSync(bundled)) {
    process.stderr.write(
      `berth needs Node >= 22.18 (this is ${process.version}); run "npm install" in ${root} or install Node 24.\n`,
    );
    process.exit(1);
  }
  const result = spawnSync(bundled, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}
