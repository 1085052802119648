import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  encodeGoAwayFrame,
  encodeRequestFrame,
  encodeResponseFrame,
  FrameError,
  FrameReader,
  type RequestFrame,
  type ResponseFrame,
} from './frames.ts';

function collect(maxFrameBytes = 1024) {
  const seen: Array<RequestFrame | ResponseFrame | 'goaway' | { oversized: number; id: number }> = [];
  const reader = new FrameReader(
    {
      request: (frame) => seen.push(frame),
      response: (frame) => seen.push(frame),
      goAway: () => seen.push('goaway'),
      oversized: (id, _kind, size) => seen.push({ oversized: size, id }),
    },
    maxFrameBytes,
  );
  return { seen, reader };
}

test('request, response and goaway frames round-trip, several to a chunk', () => {
  const { seen, reader } = collect();
  reader.push(
    Buffer.concat([
      encodeRequestFrame(
        7,
        '/Say/Hello',
        { 'content-type': 'application/json', 'x-ünï': 'ç' },
        '{"name":"Ewan"}',
      ),
      encodeResponseFrame(7, 200, '{"content-type":"application/json"}', Buffer.from('{"greeting":"hi"}')),
      encodeGoAwayFrame(),
    ]),
  );
  assert.equal(seen.length, 3);
  const request = seen[0] as RequestFrame;
  assert.equal(request.id, 7);
  assert.equal(request.path, '/Say/Hello');
  assert.deepEqual(request.headers, { 'content-type': 'application/json', 'x-ünï': 'ç' });
  assert.equal(request.body.toString(), '{"name":"Ewan"}');
  const response = seen[1] as ResponseFrame;
  assert.equal(response.status, 200);
  assert.equal(response.body.toString(), '{"greeting":"hi"}');
  assert.equal(seen[2], 'goaway');
});

test('a frame split across chunks at every byte arrives once, whole', () => {
  const frame = encodeRequestFrame(1, '/Say/Hello', { a: 'b' }, 'x'.repeat(100));
  for (let cut = 1; cut < frame.length; cut++) {
    const { seen, reader } = collect();
    reader.push(frame.subarray(0, cut));
    reader.push(frame.subarray(cut));
    assert.equal(seen.length, 1, `cut at ${cut}`);
    assert.equal((seen[0] as RequestFrame).body.toString(), 'x'.repeat(100));
  }
});

test('an oversized frame is reported with its id and skipped; the next one is read', () => {
  const { seen, reader } = collect(64);
  const big = encodeRequestFrame(3, '/Say/Hello', {}, 'y'.repeat(500));
  const next = encodeRequestFrame(4, '/Say/Hello', {}, 'small');
  reader.push(big.subarray(0, 20));
  reader.push(big.subarray(20, 300));
  reader.push(Buffer.concat([big.subarray(300), next]));
  assert.deepEqual(seen[0], { oversized: big.length - 4, id: 3 });
  assert.equal((seen[1] as RequestFrame).id, 4);
  assert.equal(seen.length, 2);
});

test('bytes that are not frames are refused with a FrameError', () => {
  const unknownKind = encodeGoAwayFrame();
  unknownKind[4] = 9;
  assert.throws(() => collect().reader.push(unknownKind), FrameError);

  const badHeaders = encodeRequestFrame(1, '/a/b', {}, '');
  badHeaders.write('{', badHeaders.length - 1); // the header block "{}" becomes "{{"
  assert.throws(() => collect().reader.push(badHeaders), /not JSON/);

  const numberHeader = encodeRequestFrame(1, '/a/b', { 'content-type': 5 as unknown as string }, '');
  assert.throws(() => collect().reader.push(numberHeader), /header content-type is not a string/);

  const tooShort = Buffer.alloc(9);
  tooShort.writeUInt32BE(2, 0);
  assert.throws(() => collect().reader.push(tooShort), /shorter than its prologue/);

  const truncated = Buffer.alloc(10);
  truncated.writeUInt32BE(6, 0);
  truncated[4] = 1;
  assert.throws(() => collect().reader.push(truncated), /truncated/);
});

test('a path too long for its u16 length is refused before anything is sent', () => {
  assert.throws(() => encodeRequestFrame(1, `/${'p'.repeat(70_000)}`, {}, ''), RangeError);
});

test('a large frame in many small chunks arrives whole, followed by the next', () => {
  const { seen, reader } = collect(4 * 1024 * 1024);
  const body = Buffer.alloc(1024 * 1024, 'z');
  const bytes = Buffer.concat([
    encodeRequestFrame(1, '/a/b', {}, body),
    encodeRequestFrame(2, '/a/b', {}, 'next'),
  ]);
  for (let offset = 0; offset < bytes.length; offset += 1000)
    reader.push(bytes.subarray(offset, offset + 1000));
  assert.equal(seen.length, 2);
  assert.ok((seen[0] as RequestFrame).body.equals(body));
  assert.equal((seen[1] as RequestFrame).body.toString(), 'next');
});
