/**
 * How deep a JSON text nests, measured before anything parses it. V8's
 * JSON.parse takes any depth, but JSON.stringify and protobuf-es's fromJson
 * recurse, so 100,000 levels ended in a RangeError (a 500 with a stack trace per
 * request). One pass over the bytes, counting brackets outside strings, with no
 * allocation: the common small body pays about what copying it would.
 */

/** Deepest nesting a request may have; proto messages nest far less (protobuf's own limit is 100). */
export const maxJsonDepth = 64;

const quote = 0x22;
const backslash = 0x5c;
const openBrace = 0x7b;
const openBracket = 0x5b;
const closeBrace = 0x7d;
const closeBracket = 0x5d;

/**
 * True when `json` opens more than `maxDepth` objects or arrays inside one
 * another. Exact for valid JSON; for invalid JSON any answer is fine, since the
 * parser rejects it anyway. UTF-8 continuation bytes are >= 0x80, so they never
 * look like a quote or a bracket.
 */
export function nestsDeeperThan(json: Uint8Array, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const byte = json[i];
    if (inString) {
      if (byte === backslash) i++;
      else if (byte === quote) inString = false;
    } else if (byte === quote) inString = true;
    else if (byte === openBrace || byte === openBracket) {
      if (++depth > maxDepth) return true;
    } else if (byte === closeBrace || byte === closeBracket) depth--;
  }
  return false;
}
