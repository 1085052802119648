/**
 * NATS server URLs as other NATS clients read them (nats.go, the nats CLI):
 * credentials in the URL, `nats://user:password@host:4222` or
 * `nats://token@host:4222`, and several servers in one comma-separated string.
 * nats.js takes neither from a URL, so they are split out here into its
 * `user`/`pass`/`token` options, and the servers are handed over without them:
 * the client would otherwise print them in its errors.
 */

export interface NatsServers {
  readonly servers: string[];
  readonly user?: string;
  readonly pass?: string;
  readonly token?: string;
}

export function natsServers(input: string | readonly string[]): NatsServers {
  const urls = (typeof input === 'string' ? [input] : [...input])
    .flatMap((entry) => entry.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (urls.length === 0) throw new Error('no NATS server given: set a nats://host:4222 URL');
  const servers: string[] = [];
  const credentials = new Set<string>();
  let found: Omit<NatsServers, 'servers'> = {};
  for (const entry of urls) {
    let url: URL;
    try {
      url = new URL(entry.includes('://') ? entry : `nats://${entry}`);
    } catch {
      throw new Error(
        `NATS server "${redacted(entry)}" is not a URL: write it as nats://[user:password@]host:4222`,
      );
    }
    if (url.username !== '') {
      const user = decodeURIComponent(url.username);
      const pass = decodeURIComponent(url.password);
      found = url.password === '' ? { token: user } : { user, pass };
      credentials.add(JSON.stringify(found));
    }
    url.username = '';
    url.password = '';
    servers.push(url.toString().replace(/\/$/, ''));
  }
  // One connection authenticates once: servers of one cluster share their users.
  if (credentials.size > 1)
    throw new Error('the NATS server URLs carry different credentials: give every server the same');
  return { servers, ...found };
}

/** The URL with its password (or token) replaced by `***`, for messages. */
function redacted(entry: string): string {
  return entry.replace(/\/\/([^@/]*)@/, '//***@');
}
