import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScramExchange, ScramProtocolError, scramVerifier } from './pg-scram.ts';

// RFC 7677 §3: user "user", password "pencil".
const rfc = {
  salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'),
  serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0',
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};
const exchange = (password = 'pencil') =>
  new ScramExchange(scramVerifier(password, rfc.salt), rfc.serverNonce);

test('the RFC 7677 example: server-first and server-final are the RFC’s, byte for byte', () => {
  const scram = exchange();
  assert.equal(scram.serverFirst(rfc.clientFirst), rfc.serverFirst);
  assert.equal(scram.serverFinal(rfc.clientFinal), rfc.serverFinal);
});

test('a proof of another password, or a tampered proof, is refused', () => {
  const other = exchange('not-pencil');
  other.serverFirst(rfc.clientFirst);
  assert.equal(other.serverFinal(rfc.clientFinal), undefined);
  const tampered = exchange();
  tampered.serverFirst(rfc.clientFirst);
  assert.equal(tampered.serverFinal(rfc.clientFinal.replace('p=dHzb', 'p=dHzc')), undefined);
  const short = exchange();
  short.serverFirst(rfc.clientFirst);
  assert.equal(short.serverFinal(rfc.clientFinal.replace(/p=.*$/, 'p=AAAA')), undefined);
});

test('a nonce, channel binding or extension the exchange did not agree on is a protocol error', () => {
  const cases: Array<[string, (scram: ScramExchange) => unknown, RegExp]> = [
    [
      'another nonce',
      (s) => s.serverFinal(rfc.clientFinal.replace('r=rOpr', 'r=xOpr')),
      /nonce does not match/,
    ],
    [
      'another gs2 header',
      (s) => s.serverFinal(rfc.clientFinal.replace('c=biws', 'c=eSws')),
      /channel binding/,
    ],
    ['no proof', (s) => s.serverFinal(rfc.clientFinal.replace(/,p=.*$/, '')), /has no proof/],
  ];
  for (const [what, step, message] of cases) {
    const scram = exchange();
    scram.serverFirst(rfc.clientFirst);
    assert.throws(
      () => step(scram),
      (error: unknown) => error instanceof ScramProtocolError && message.test(String(error)),
      what,
    );
  }
  const firsts: Array<[string, RegExp]> = [
    ['p=tls-server-end-point,,n=user,r=abc', /channel binding is not supported/],
    ['n,a=admin,n=user,r=abc', /authorization identities/],
    ['n,,m=ext,n=user,r=abc', /mandatory extensions/],
    ['n,,n=user', /no nonce/],
    ['n,,n=user,r=a,r=b', /malformed/],
  ];
  for (const [clientFirst, message] of firsts) {
    assert.throws(() => exchange().serverFirst(clientFirst), message, clientFirst);
  }
});
