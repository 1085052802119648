/**
 * The template renderer of `berth new`: templates are plain files under
 * ./templates, copied with two substitutions and nothing more.
 *
 *  - `__token__` placeholders, in contents and in file and folder names, become
 *    the context's values (`__service__` → `order-history`); an unknown one is an
 *    error, so a typo in a template cannot reach a user's system.
 *  - Lines `// @if flag`, `// @if !flag`, `// @else`, `// @end` (`#` instead of `//`
 *    in YAML) keep or drop the lines between them by the context's flags
 *    (`postgres`, `nats`); the directive lines themselves are dropped. They nest.
 *
 * File names: a leading `_` becomes `.` (`_gitignore`: npm leaves dotfiles such as
 * .gitignore out of a published package), and a trailing `.tmpl` is dropped (for
 * files that must not be taken for what they will be where they lie, such as a
 * `*.test.ts` that berth's own test run would pick up).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

export interface TemplateContext {
  /** Values of the `__token__` placeholders, keyed by token (`service`, `Service`, ...). */
  readonly tokens: Readonly<Record<string, string>>;
  /** Flags the `@if` lines test. */
  readonly flags: ReadonlySet<string>;
}

const PLACEHOLDER = /__([A-Za-z][A-Za-z_]*?)__/g;
const DIRECTIVE = /^\s*(?:\/\/|#)\s*@(if|else|end)\b\s*(!?)\s*([\w-]*)\s*$/;

export function substitute(text: string, context: TemplateContext, label: string): string {
  return text.replace(PLACEHOLDER, (whole, token: string) => {
    const value = context.tokens[token];
    if (value === undefined) throw new Error(`${label}: unknown placeholder ${whole}`);
    return value;
  });
}

/** `text` with its `@if` blocks resolved and its placeholders substituted. */
export function renderText(text: string, context: TemplateContext, label: string): string {
  // One entry per open @if: whether its lines are kept, and whether its parent's are.
  const open: Array<{ keep: boolean; parentKeeps: boolean }> = [];
  const kept: string[] = [];
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    const directive = DIRECTIVE.exec(line);
    const keeping = open.length === 0 || open[open.length - 1]!.keep;
    if (!directive) {
      if (keeping) kept.push(line);
      return;
    }
    const [, kind, negated, flag] = directive;
    const where = `${label}:${index + 1}`;
    if (kind === 'if') {
      if (!flag) throw new Error(`${where}: @if needs a flag`);
      const holds = context.flags.has(flag) !== (negated === '!');
      open.push({ keep: keeping && holds, parentKeeps: keeping });
    } else {
      const block = open.pop();
      if (!block) throw new Error(`${where}: @${kind} without @if`);
      if (kind === 'else')
        open.push({ keep: block.parentKeeps && !block.keep, parentKeeps: block.parentKeeps });
    }
  });
  if (open.length > 0) throw new Error(`${label}: @if without @end`);
  return substitute(kept.join('\n'), context, label);
}

/** A template path (relative) as it is written into the target. */
function targetPath(path: string, context: TemplateContext): string {
  return substitute(path, context, path)
    .split('/')
    .map((segment) => segment.replace(/^_/, '.').replace(/\.tmpl$/, ''))
    .join('/');
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

export interface RenderTreeOptions {
  /** Leave files that already exist as they are (shared files a system may have already). */
  readonly keepExisting?: boolean;
}

/**
 * Renders every file under `templateDir` into `targetDir`; returns the paths
 * written, relative to `targetDir`. Without `keepExisting`, an existing file is an
 * error rather than overwritten.
 */
export function renderTree(
  templateDir: string,
  targetDir: string,
  context: TemplateContext,
  options: RenderTreeOptions = {},
): string[] {
  const written: string[] = [];
  for (const file of filesUnder(templateDir)) {
    const target = targetPath(file, context);
    const path = join(targetDir, target);
    if (options.keepExisting && existsSync(path)) continue;
    const text = renderText(readFileSync(join(templateDir, file), 'utf8'), context, file);
    mkdirSync(dirname(path), { recursive: true });
    try {
      writeFileSync(path, text, { flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      throw new Error(`${path} already exists; berth new never overwrites a file`);
    }
    written.push(target);
  }
  return written;
}
