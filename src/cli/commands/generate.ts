/** `berth generate`: regenerate a system's code from its protos (docs/scaffold.md). */
import { relative, resolve } from 'node:path';
import { generateCode } from '../../scaffold/codegen.ts';
import { type Command, UsageError } from '../command.ts';

export const generateCommand: Command = {
  name: 'generate',
  usage: `Usage: berth generate [<system dir>]

Regenerates gen/ from every .proto under proto/ in the system folder (default:
the current folder) with buf and protoc-gen-es, as set by its buf.gen.yaml (else
berth's default: TypeScript declarations and ES modules). What a deleted .proto
had generated is removed. buf comes from the system's node_modules (npm install
there), else berth's own, else PATH.`,
  async run({ positionals }, io) {
    if (positionals.length > 1) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    const dir = resolve(io.cwd, positionals[0] ?? '.');
    generateCode(dir, io.env);
    io.stdout.write(`generated ${relative(io.cwd, resolve(dir, 'gen')) || 'gen'} from proto/\n`);
    return 0;
  },
};
