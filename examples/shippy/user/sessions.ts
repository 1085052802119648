/**
 * A session is a token that verifies (tokens.ts) and has not been revoked
 * (revocations.ts). ValidateToken, Logout and the calls that need a caller
 * (Get, GetAll) all go through here, so they agree on what a valid token is.
 */
import type { HandlerContext } from '@connectrpc/connect';
import { Code, fail } from 'berth';
import { bearerToken } from '../configs/auth.ts';
import type { Revocations } from './revocations.ts';
import type { TokenClaims, Tokens } from './tokens.ts';

export class Sessions {
  readonly #tokens: Tokens;
  readonly #revocations: Revocations;

  constructor(tokens: Tokens, revocations: Revocations) {
    this.#tokens = tokens;
    this.#revocations = revocations;
  }

  issue(userId: string): Promise<string> {
    return this.#tokens.issue(userId);
  }

  /** The token's claims; undefined when it is invalid, expired or logged out. */
  async check(token: string): Promise<TokenClaims | undefined> {
    const claims = await this.#tokens.verify(token);
    if (!claims || (await this.#revocations.isRevoked(claims.tokenId))) return undefined;
    return claims;
  }

  /** Logs the token out everywhere. A token that does not verify has nothing to revoke. */
  async revoke(token: string): Promise<void> {
    const claims = await this.#tokens.verify(token);
    if (claims) await this.#revocations.revoke(claims);
  }

  /** The id of the user whose `Authorization: Bearer` token came with the request; else Unauthenticated. */
  async caller(context: HandlerContext): Promise<string> {
    const claims = await this.check(bearerToken(context));
    if (!claims) fail(Code.Unauthenticated, 'invalid or expired token');
    return claims.userId;
  }
}
