import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nestsDeeperThan } from './json-depth.ts';

const nested = (depth: number) => Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);

test('counts nesting of objects and arrays up to the limit, not past it', () => {
  assert.equal(nestsDeeperThan(nested(64), 64), false);
  assert.equal(nestsDeeperThan(nested(65), 64), true);
  assert.equal(nestsDeeperThan(nested(100_000), 64), true);
  const mixed = Buffer.from('{"a":[{"b":[1,2,{"c":{}}]}]}'); // 6 levels
  assert.equal(nestsDeeperThan(mixed, 6), false);
  assert.equal(nestsDeeperThan(mixed, 5), true);
});

test('siblings do not add up: depth is the deepest path, not the number of brackets', () => {
  const wide = Buffer.from(`[${Array.from({ length: 1000 }, () => '{"a":[1]}').join(',')}]`);
  assert.equal(nestsDeeperThan(wide, 3), false);
  assert.equal(nestsDeeperThan(wide, 2), true);
});

test('brackets inside strings, escaped quotes and multi-byte characters are not nesting', () => {
  assert.equal(nestsDeeperThan(Buffer.from(JSON.stringify({ s: '[[[[{{{{' })), 1), false);
  assert.equal(nestsDeeperThan(Buffer.from(JSON.stringify({ s: 'a"[[[["\\' })), 1), false);
  assert.equal(nestsDeeperThan(Buffer.from(JSON.stringify({ s: '\\', t: [[1]] })), 2), true);
  assert.equal(nestsDeeperThan(Buffer.from(JSON.stringify({ s: 'ünïcödé [ 日本 {' })), 1), false);
});
