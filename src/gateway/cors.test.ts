import assert from 'node:assert/strict';
import { test } from 'node:test';
import { corsHeaders, preflightHeaders } from './cors.ts';

test('an allowed origin gets CORS headers; others and origin-less requests none', () => {
  const options = { origins: ['http://app.test'] };
  assert.deepEqual(corsHeaders(options, { origin: 'http://app.test' }), {
    'access-control-allow-origin': 'http://app.test',
    'access-control-expose-headers': 'Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, X-Request-Id',
    vary: 'Origin',
  });
  assert.equal(corsHeaders(options, { origin: 'http://evil.test' }), undefined);
  assert.equal(corsHeaders(options, {}), undefined);
  assert.equal(corsHeaders({ origins: [] }, { origin: 'http://app.test' }), undefined);
});

test('a wildcard answers *, or echoes the origin when credentials are allowed', () => {
  assert.equal(
    corsHeaders({ origins: ['*'] }, { origin: 'http://a.test' })?.['access-control-allow-origin'],
    '*',
  );
  const withCredentials = corsHeaders({ origins: ['*'], credentials: true }, { origin: 'http://a.test' });
  assert.equal(withCredentials?.['access-control-allow-origin'], 'http://a.test');
  assert.equal(withCredentials?.['access-control-allow-credentials'], 'true');
});

test('a preflight lists methods, headers and max age', () => {
  const headers = preflightHeaders({ origins: ['*'], maxAgeSeconds: 60 }, { origin: 'http://a.test' });
  assert.equal(headers?.['access-control-allow-methods'], 'GET, POST, OPTIONS');
  assert.match(headers?.['access-control-allow-headers'] ?? '', /\bAuthorization\b/);
  assert.match(headers?.['access-control-allow-headers'] ?? '', /\bConnect-Protocol-Version\b/);
  assert.equal(headers?.['access-control-max-age'], '60');
  assert.equal(
    preflightHeaders({ origins: ['*'], allowHeaders: ['X-A'] }, { origin: 'http://a.test' })?.[
      'access-control-allow-headers'
    ],
    'X-A',
  );
  assert.equal(preflightHeaders({ origins: ['http://a.test'] }, { origin: 'http://b.test' }), undefined);
});
