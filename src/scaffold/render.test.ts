import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ResourceKind } from '../config/system-file.ts';
import { camelCase, nameProblem, pascalCase, snakeCase } from './names.ts';
import { templateContext } from './new-service.ts';
import { renderText, renderTree } from './render.ts';

const context = { tokens: { name: 'order-history', Name: 'OrderHistory' }, flags: new Set(['postgres']) };

describe('renderText', () => {
  it('substitutes placeholders, also next to other word characters', () => {
    assert.equal(
      renderText('__Name__Service in __name__/x.ts\n', context, 't'),
      'OrderHistoryService in order-history/x.ts\n',
    );
  });

  it('keeps and drops @if blocks by flag, nested, with @else, dropping the directive lines', () => {
    const template = [
      'a',
      '// @if postgres',
      'b',
      '  # @if nats',
      'c',
      '  # @else',
      'd',
      '  # @end',
      '// @else',
      'e',
      '// @end',
      '// @if !postgres',
      'f',
      '// @end',
      'g',
    ].join('\n');
    assert.equal(renderText(template, context, 't'), 'a\nb\nd\ng');
  });

  it('names the template and line of a mistake', () => {
    assert.throws(() => renderText('__nmae__', context, 'x.ts'), /x\.ts: unknown placeholder __nmae__/);
    assert.throws(() => renderText('// @if postgres\n', context, 'x.ts'), /x\.ts: @if without @end/);
    assert.throws(() => renderText('a\n// @end\n', context, 'x.ts'), /x\.ts:2: @end without @if/);
  });
});

describe('the templates', () => {
  const root = mkdtempSync(join(tmpdir(), 'berth-templates-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  const templates = join(import.meta.dirname, 'templates');

  const variants: ResourceKind[][] = [[], ['postgres'], ['nats'], ['postgres', 'nats']];
  for (const uses of variants) {
    it(`render for a service using ${uses.join(' and ') || 'nothing'}, every placeholder known`, () => {
      const target = join(root, uses.join('-') || 'plain');
      const ctx = templateContext('my-shop', 'order-history', uses);
      const written = [
        ...renderTree(join(templates, 'system'), target, ctx),
        ...renderTree(join(templates, 'service'), target, ctx),
        ...uses.flatMap((kind) => renderTree(join(templates, kind), target, ctx)),
      ];
      assert.ok(written.includes('.gitignore'));
      assert.ok(written.includes('order-history/order-history.test.ts'));
      assert.ok(written.includes('proto/my_shop/order_history/v1/order_history.proto'));
      assert.equal(written.includes('order-history/repository.ts'), uses.includes('postgres'));
      for (const file of written) {
        const text = readFileSync(join(target, file), 'utf8');
        assert.doesNotMatch(text, /@(if|else|end)\b|__[A-Za-z]+__/, file);
      }
      const proto = readFileSync(join(target, 'proto/my_shop/order_history/v1/order_history.proto'), 'utf8');
      assert.match(proto, /^package my_shop\.order_history\.v1;$/m);
      assert.match(proto, /^service OrderHistoryService \{$/m);
    });
  }

  it('refuse to overwrite a file', () => {
    const target = join(root, 'twice');
    const ctx = templateContext('shop', 'orders', []);
    renderTree(join(templates, 'service'), target, ctx);
    assert.throws(() => renderTree(join(templates, 'service'), target, ctx), /already exists/);
    assert.ok(readdirSync(join(target, 'orders')).includes('main.ts'));
  });
});

describe('names', () => {
  it('are spelt for proto packages, types and functions', () => {
    assert.equal(snakeCase('order-history'), 'order_history');
    assert.equal(pascalCase('order-history-v2'), 'OrderHistoryV2');
    assert.equal(camelCase('order-history'), 'orderHistory');
  });

  it('follow berth.yaml’s rule, and a service cannot take what berth or the system layout uses', () => {
    assert.equal(nameProblem('order-history', 'service'), undefined);
    assert.match(nameProblem('-x', 'service')!, /not a valid service name/);
    assert.match(nameProblem('a'.repeat(64), 'system')!, /at most 63 characters/);
    assert.match(nameProblem('gen', 'service')!, /reserved/);
    assert.equal(nameProblem('gateway', 'system'), undefined);
  });
});
