/**
 * Session tokens: HS256 JWTs (jose) with subject = user id, issuer `shippy.user`,
 * a random `jti` (what Logout revokes), issued-at, expiring after `ttlSeconds`. The signing key comes from configuration, never
 * from the source: `JWT_SECRET`, else the file `JWT_SECRET_FILE` names (a mounted
 * Kubernetes Secret), else `<data dir>/user/jwt.key`, created with a random key on
 * first start (mode 0600) so a laptop needs no setup and keys survive restarts.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { jwtVerify, SignJWT } from 'jose';

export const issuer = 'shippy.user';
/** Shortest secret accepted, in characters (HS256 wants at least 256 bits of key). */
export const minSecretLength = 32;

export interface KeySettings {
  readonly jwtSecret?: string;
  readonly jwtSecretFile?: string;
  readonly berthDataDir: string;
}

export async function loadSigningKey(settings: KeySettings): Promise<Uint8Array> {
  let secret: string;
  if (settings.jwtSecret !== undefined) {
    secret = settings.jwtSecret;
  } else if (settings.jwtSecretFile !== undefined) {
    const file = settings.jwtSecretFile;
    secret = (
      await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new Error(`JWT_SECRET_FILE ${file}: cannot read it (${error.code ?? error.message})`);
      })
    ).trim();
    if (secret.length < minSecretLength) {
      throw new Error(
        `JWT_SECRET_FILE ${settings.jwtSecretFile}: expected a secret of at least ${minSecretLength} characters`,
      );
    }
  } else {
    secret = await loadOrCreateKeyFile(join(settings.berthDataDir, 'user', 'jwt.key'));
  }
  return new TextEncoder().encode(secret);
}

/**
 * Reads `file`, or creates it with a random key. Replicas starting together race
 * safely: each writes a temp file and links it into place, which fails for all but
 * the first; the others read the winner's key.
 */
async function loadOrCreateKeyFile(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await link(temp, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    await rm(temp, { force: true });
  }
  return (await readFile(file, 'utf8')).trim();
}

/** What a valid token says. */
export interface TokenClaims {
  readonly userId: string;
  /** The `jti`: what Logout revokes. */
  readonly tokenId: string;
  readonly expiresAt: Date;
}

/** Ours are about 250 characters; anything much longer is refused unread. */
const maxTokenLength = 2048;
/** Clock difference between replicas tolerated on `iat` and `exp`. */
const clockToleranceSeconds = 5;

export class Tokens {
  readonly #key: Uint8Array;
  readonly #ttlSeconds: number;

  constructor(key: Uint8Array, ttlSeconds: number) {
    this.#key = key;
    this.#ttlSeconds = ttlSeconds;
  }

  issue(userId: string): Promise<string> {
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(issuer)
      .setJti(randomUUID())
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .sign(this.#key);
  }

  /**
   * The claims of a token we signed that has `sub`, `iat`, `exp` and `jti`, was not
   * issued in the future nor longer ago than the TTL, and has not expired; else
   * undefined. Revocation is not checked here (see Sessions).
   */
  async verify(token: string): Promise<TokenClaims | undefined> {
    if (token.length > maxTokenLength) return undefined;
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        issuer,
        algorithms: ['HS256'],
        requiredClaims: ['sub', 'iat', 'exp', 'jti'],
        maxTokenAge: this.#ttlSeconds,
        clockTolerance: clockToleranceSeconds,
      });
      const { sub, jti, exp } = payload;
      if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '') return undefined;
      if (exp === undefined) return undefined;
      return { userId: sub, tokenId: jti, expiresAt: new Date(exp * 1000) };
    } catch {
      return undefined;
    }
  }
}
