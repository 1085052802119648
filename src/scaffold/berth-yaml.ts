/**
 * Adds a service to berth.yaml. The yaml package's Document API finds where the
 * `services` mapping ends and renders the new entry; the entry's text is then
 * inserted there, so every other byte of the file (comments, flow lists written as
 * `[postgres]`, blank lines) stays as the user wrote it. Re-stringifying the whole
 * document would keep comments but re-space every flow collection.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Document, isMap, isScalar, isSeq, parseDocument } from 'yaml';

function entryText(name: string, uses: readonly string[], indent: string): string {
  const entry = new Document({ [name]: uses.length > 0 ? { uses: [...uses] } : {} });
  const usesList = entry.getIn([name, 'uses'], true);
  if (isSeq(usesList)) usesList.flow = true;
  return entry
    .toString({ flowCollectionPadding: false })
    .split('\n')
    .map((line) => (line ? indent + line : line))
    .join('\n');
}

/** `name: {}`, or `name:` with `uses: [postgres, nats]`, after the last entry of `services`. */
export function addServiceEntry(file: string, name: string, uses: readonly string[]): void {
  const text = readFileSync(file, 'utf8');
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
  const services = doc.get('services', true);
  const range = (services as { range?: [number, number, number] } | undefined)?.range;
  if (isMap(services) && !services.flow && services.items.length > 0 && range) {
    const keyStart = (services.items[0]!.key as { range: [number, number, number] }).range[0];
    const indent = ' '.repeat(keyStart - (text.lastIndexOf('\n', keyStart - 1) + 1));
    // range[1]: the end of the mapping's last value, the start of the line after it.
    const at = Math.min(range[1], text.length);
    const insert = entryText(name, uses, indent);
    writeFileSync(file, text.slice(0, at) + (text[at - 1] === '\n' ? '' : '\n') + insert + text.slice(at));
    return;
  }
  const empty =
    (isScalar(services) && services.value === null) || (isMap(services) && services.items.length === 0);
  if (empty && range) {
    // `services:` alone (as a new system has) or `services: {}`: the entry goes on the next line.
    const before = isMap(services) ? text.slice(0, range[0]).replace(/ +$/, '') : text.slice(0, range[0]);
    const rest = text.slice(range[1]);
    const lineEnd = rest.indexOf('\n') === -1 ? rest.length : rest.indexOf('\n');
    const entry = entryText(name, uses, '  ').replace(/\n$/, '');
    writeFileSync(file, `${before}${rest.slice(0, lineEnd)}\n${entry}${rest.slice(lineEnd)}`);
    return;
  }
  if (services !== undefined && !isMap(services)) {
    throw new Error(`${file}: services must be a mapping of service names; cannot add "${name}" to it`);
  }
  // A flow mapping with entries (`services: { a: {} }`): rewritten whole through the Document.
  doc.setIn(['services', name], doc.createNode(uses.length > 0 ? { uses: [...uses] } : {}));
  writeFileSync(file, doc.toString());
}
