import assert from 'node:assert/strict';
import { test } from 'node:test';
import { currentRequest, outsideRequest, runInRequest } from './request-context.ts';

test('a timer made outside the request does not carry it; one made inside does', async () => {
  const context = { deadline: undefined, requestId: 'req-1', headers: {} };
  const seen = await runInRequest(context, async () => {
    const inside = new Promise((resolve) => setTimeout(() => resolve(currentRequest()?.requestId), 1));
    const outside = outsideRequest(
      () => new Promise((resolve) => setTimeout(() => resolve(currentRequest()?.requestId), 1)),
    );
    return { inside: await inside, outside: await outside, after: currentRequest()?.requestId };
  });
  assert.deepEqual(seen, { inside: 'req-1', outside: undefined, after: 'req-1' });
});
