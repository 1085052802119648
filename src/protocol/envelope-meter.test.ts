import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EnvelopeMeter } from './envelope-meter.ts';

function envelope(size: number): Buffer {
  const message = Buffer.alloc(5 + size, 0x61);
  message[0] = 0;
  message.writeUInt32BE(size, 1);
  return message;
}

test('messages at the limit pass however many there are; the first one over it is named', () => {
  const meter = new EnvelopeMeter();
  for (let i = 0; i < 100; i++) assert.equal(meter.overLimit(envelope(1000), 1000), undefined);
  assert.equal(meter.overLimit(envelope(1001), 1000), 1001);
});

test('prefixes and messages split across chunks at every byte are still read right', () => {
  const stream = Buffer.concat([envelope(10), envelope(3), envelope(0), envelope(11)]);
  for (let cut = 1; cut < stream.length; cut++) {
    const meter = new EnvelopeMeter();
    const found = [stream.subarray(0, cut), stream.subarray(cut)].map((chunk) => meter.overLimit(chunk, 10));
    assert.equal(
      found.find((size) => size !== undefined),
      11,
      `cut at ${cut}`,
    );
  }
});
