#!/usr/bin/env node
// berth is written in TypeScript that Node runs directly from 22.18 on (type
// stripping). On an older Node, re-run with the Node 24 that npm installed (the
// `node` package, a devDependency of berth and of the systems `berth new` makes),
// so `berth` works whatever node is first on PATH. That is why package.json's
// engines say >= 20: what runs berth is that Node, not the one that ran npm.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major > 22 || (major === 22 && minor >= 18)) {
  await import(main);
} else {
  const bundled = bundledNode();
  if (!bundled) {
    process.stderr.write(
      `berth needs Node >= 22.18 (this is ${process.version}); run "npm install" where berth is installed, or install Node 24.\n`,
    );
    process.exit(1);
  }
  const result = spawnSync(bundled, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

/** The `node` package's binary as npm installed it: in berth's own node_modules or a project's above it. */
function bundledNode() {
  try {
    const binary = join(dirname(createRequire(main).resolve('node/package.json')), 'bin', 'node');
    return existsSync(binary) ? binary : undefined;
  } catch {
    return undefined;
  }
}
