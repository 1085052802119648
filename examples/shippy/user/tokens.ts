/**
 * Session tokens: HS256 JWTs (jose) with subject = user id, issuer `shippy.user`,
 * expiring after `ttlSeconds`. The signing key comes from configuration, never
 * from the source: `JWT_SECRET`, else the file `JWT_SECRET_FILE` names (a mounted
 * Kubernetes Secret), else `<data dir>/user/jwt.key`, created with a random key on
 * first start (mode 0600) so a laptop needs no setup and keys survive restarts.
 */
import { randomBytes } from 'node:crypto';
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
      .setIssuedAt()
      .setExpirationTime(`${this.#ttlSeconds}s`)
      .sign(this.#key);
  }

  /** The user id the token was issued to; undefined when it is invalid, expired or not ours. */
  async verify(token: string): Promise<string | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#key, { issuer, algorithms: ['HS256'] });
      return typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
    } catch {
      return undefined;
    }
  }
}
