/**
 * Reading one YAML configuration file: syntax errors name the file, line and
 * column; the top level must be a mapping; the returned Source can locate any key
 * path in the file so later validation errors carry a line number.
 */
import { readFileSync } from 'node:fs';
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { ConfigError, describeValue } from './config-error.ts';
import { isMapping, type Mapping, type Path, type Source } from './provenance.ts';

export interface YamlFile {
  readonly data: Mapping;
  readonly source: Source;
}

/**
 * Parse YAML `text` from the file labelled `label` (how it is named in messages).
 * An empty document is an empty mapping.
 */
export function parseYamlFile(text: string, label: string): YamlFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, strict: true });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => {
        const { line, column } = position(error.pos[0]);
        return {
          source: label,
          key: '',
          message: `YAML syntax error at line ${line}, column ${column}: ${firstLine(error.message)}`,
        };
      }),
    );
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (error) {
    throw new ConfigError([
      { source: label, key: '', message: `cannot read YAML: ${firstLine(String(error))}` },
    ]);
  }
  if (data === null || data === undefined) data = {};
  if (!isMapping(data)) {
    const where = doc.contents?.range ? position(doc.contents.range[0]) : undefined;
    throw new ConfigError([
      {
        source: label,
        key: '',
        message: `expected a mapping of keys at the top level, got ${describeValue(data)}`,
        ...where,
      },
    ]);
  }
  return {
    data,
    source: {
      label,
      locate: (path) => {
        const node = nodeAt(doc, path);
        return node?.range ? position(node.range[0]) : undefined;
      },
    },
  };
}

/**
 * Read and parse `file`. A missing file gives `undefined` when `optional`; any
 * other read failure, or a file that exists but is broken, is a ConfigError.
 */
export function readYamlFile(file: string, label: string, optional: boolean): YamlFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return undefined;
    const reason =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a file' : String(error);
    throw new ConfigError([{ source: label, key: '', message: `cannot read: ${reason}` }]);
  }
  return parseYamlFile(text, label);
}

/**
 * The node for `path`: the key of its last segment (the line a person looks for),
 * or the deepest existing node above it when the path goes further than the file.
 */
function nodeAt(doc: Document, path: Path): Node | undefined {
  let node: unknown = doc.contents;
  for (const [i, segment] of path.entries()) {
    const last = i === path.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((item) => (isScalar(item.key) ? item.key.value : item.key) === segment);
      if (!pair) return node;
      node = last && isScalar(pair.key) ? pair.key : (pair.value ?? pair.key);
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment];
      if (item === undefined) return node;
      node = item;
    } else break;
  }
  return node as Node | undefined;
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0]!.trim();
}
