/**
 * The two declarations of a `.proto` file that deployment needs: its `package`
 * and its top-level `service`s. Not a protobuf compiler: messages, options and
 * imports are skipped, but the lexical layer is exact (comments, strings with
 * escapes), so a `service` inside a comment, a string or a message is never
 * taken for one, and a file protoc would choke on at that layer is refused with
 * its file and line.
 */

export interface ProtoDeclarations {
  /** As declared (`shippy.vessel.v1`); '' when the file declares none. */
  readonly package: string;
  /** Top-level services, in file order (`VesselService`). */
  readonly services: readonly string[];
}

export class ProtoSyntaxError extends Error {
  readonly file: string;
  readonly line: number;
  constructor(file: string, line: number, message: string) {
    super(`${file}:${line}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

interface Token {
  /** `word` covers identifiers and numbers; a fully-qualified name is words joined by `.` symbols. */
  readonly kind: 'word' | 'string' | 'symbol';
  readonly text: string;
  readonly line: number;
}

const WORD = /[A-Za-z0-9_]+/y;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

function* tokenize(text: string, file: string): Generator<Token> {
  let line = 1;
  let at = 0;
  while (at < text.length) {
    const char = text[at]!;
    if (char === '\n') {
      line += 1;
      at += 1;
    } else if (/\s/.test(char)) {
      at += 1;
    } else if (text.startsWith('//', at)) {
      const end = text.indexOf('\n', at);
      at = end === -1 ? text.length : end;
    } else if (text.startsWith('/*', at)) {
      const end = text.indexOf('*/', at + 2);
      if (end === -1) throw new ProtoSyntaxError(file, line, 'comment opened with /* is never closed');
      line += countNewlines(text, at, end);
      at = end + 2;
    } else if (char === '"' || char === "'") {
      const start = at;
      at += 1;
      while (at < text.length && text[at] !== char && text[at] !== '\n') {
        // An escape takes the next character too, unless that is the end of the line.
        at += text[at] === '\\' && text[at + 1] !== '\n' ? 2 : 1;
      }
      if (at >= text.length || text[at] !== char)
        throw new ProtoSyntaxError(file, line, `string opened with ${char} is not closed on its line`);
      at += 1;
      yield { kind: 'string', text: text.slice(start, at), line };
    } else {
      WORD.lastIndex = at;
      const word = WORD.exec(text)?.[0];
      yield { kind: word ? 'word' : 'symbol', text: word ?? char, line };
      at += word?.length ?? 1;
    }
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let at = text.indexOf('\n', from); at !== -1 && at < to; at = text.indexOf('\n', at + 1)) count += 1;
  return count;
}

/** Reads a file's `package` and top-level `service` names; `file` only labels errors. */
export function parseProtoDeclarations(text: string, file: string): ProtoDeclarations {
  const tokens = tokenize(text, file);
  let protoPackage: { name: string; line: number } | undefined;
  const services: string[] = [];
  /** Lines of the `{` still open; top-level statements are those at depth 0. */
  const open: number[] = [];
  let statementStart = true;

  const next = (after: string, line: number): Token => {
    const token = tokens.next();
    if (token.done) throw new ProtoSyntaxError(file, line, `the file ends after ${after}`);
    return token.value;
  };
  const identifierAfter = (after: string, line: number, what: string): Token => {
    const token = next(after, line);
    if (token.kind !== 'word' || !IDENTIFIER.test(token.text))
      throw new ProtoSyntaxError(file, token.line, `expected ${what} after ${after}, found ${token.text}`);
    return token;
  };

  for (const token of tokens) {
    const topLevel = open.length === 0 && statementStart;
    statementStart = false;
    if (token.text === '{') open.push(token.line);
    else if (token.text === '}') {
      if (open.pop() === undefined) throw new ProtoSyntaxError(file, token.line, '} without a matching {');
      statementStart = open.length === 0;
    } else if (token.text === ';') statementStart = open.length === 0;
    else if (topLevel && token.kind === 'word' && token.text === 'package') {
      if (protoPackage)
        throw new ProtoSyntaxError(
          file,
          token.line,
          `a second package statement (the first is on line ${protoPackage.line})`,
        );
      const parts = [identifierAfter('package', token.line, 'a package name').text];
      let separator = next(`package ${parts.join('.')}`, token.line);
      while (separator.text === '.') {
        parts.push(identifierAfter(`package ${parts.join('.')}.`, separator.line, 'a name').text);
        separator = next(`package ${parts.join('.')}`, separator.line);
      }
      if (separator.text !== ';')
        throw new ProtoSyntaxError(
          file,
          separator.line,
          `expected ; after package ${parts.join('.')}, found ${separator.text}`,
        );
      protoPackage = { name: parts.join('.'), line: token.line };
      statementStart = true;
    } else if (topLevel && token.kind === 'word' && token.text === 'service') {
      const name = identifierAfter('service', token.line, 'a service name');
      const body = next(`service ${name.text}`, name.line);
      if (body.text !== '{')
        throw new ProtoSyntaxError(
          file,
          body.line,
          `expected { after service ${name.text}, found ${body.text}`,
        );
      open.push(body.line);
      services.push(name.text);
    }
  }
  const unclosed = open.at(-1);
  if (unclosed !== undefined) throw new ProtoSyntaxError(file, unclosed, '{ is never closed');
  return { package: protoPackage?.name ?? '', services };
}
