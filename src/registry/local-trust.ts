/**
 * What a berth process trusts of what it finds on this machine: only what its own
 * user owns. The local registry and the runner's pointers are files that other
 * commands act on (`berth list` shows an instance, a client calls its address), so
 * a folder another local user created first, a file they planted or a pid of
 * theirs must never count as ours.
 *
 * - Folders: a per-user runtime dir, never a predictable path in /tmp; created
 *   0700, and refused when another uid owns it or group/other can reach it.
 * - Files: read only when a regular file (not a symlink) owned by the user; written 0600.
 * - Processes: alive only when the pid exists and runs as the user.
 *
 * No uid on Windows (process.getuid is undefined): nothing to compare, so only the
 * symlink and file-type checks apply there.
 */
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

type Env = Readonly<Record<string, string | undefined>>;

const uid = process.getuid?.();
/** /proc tells root who owns a pid (Linux); elsewhere root cannot tell and trusts signal 0. */
const procfs = existsSync('/proc/self');
/** Opens what is at the path itself, never a symlink's target, and never blocks on a planted FIFO. */
const openFlags = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * berth's per-user runtime folder: `$XDG_RUNTIME_DIR/berth` when XDG_RUNTIME_DIR is
 * the user's own 0700 folder (as systemd-logind makes /run/user/<uid>), else
 * `$XDG_CACHE_HOME/berth/run` (default `~/.cache/berth/run`). Only computes the
 * path: ensurePrivateDir creates and checks it.
 */
export function userRuntimeDir(env: Env = process.env): string {
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime && isAbsolute(runtime) && isPrivateDir(runtime)) return join(runtime, 'berth');
  const cache =
    env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(cache, 'berth', 'run');
}

/** Creates `dir` (and missing parents) 0700, or checks the folder already there (see checkPrivateDir). */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  checkPrivateDir(dir);
}

/**
 * Whether `dir` exists (false: nothing there yet). A folder that is a symlink, owned
 * by another uid or reachable by group/other is an Error naming it and what to do.
 */
export function checkPrivateDir(dir: string): boolean {
  const problem = privacyProblem(dir);
  if (problem === 'missing') return false;
  if (problem !== undefined) throw new Error(`refusing to use ${dir}: ${problem}`);
  return true;
}

function isPrivateDir(dir: string): boolean {
  try {
    return privacyProblem(dir) === undefined;
  } catch {
    return false; // unreadable (EACCES…): not a folder berth can use
  }
}

function privacyProblem(dir: string): string | undefined {
  let stats: Stats;
  try {
    stats = lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw error;
  }
  if (stats.isSymbolicLink()) return 'it is a symbolic link; give the folder it points to instead';
  if (!stats.isDirectory()) return 'it is not a folder';
  if (uid === undefined) return undefined;
  if (stats.uid !== uid) {
    return (
      `it is owned by uid ${stats.uid}, not by you (uid ${uid}), so another user may read or plant what berth keeps there; ` +
      'remove it (as its owner or root), or use a folder of your own'
    );
  }
  if ((stats.mode & 0o077) !== 0) {
    const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
    return `other users can reach it (mode ${mode}); make it private with: chmod 700 ${dir}`;
  }
  return undefined;
}

function isOwnedFile(stats: Stats): boolean {
  return stats.isFile() && (uid === undefined || stats.uid === uid);
}

/** The text of `file` when it is a regular file of this user's; undefined otherwise, or when it is gone. */
export async function readOwnedFile(file: string): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, openFlags);
  } catch {
    return undefined; // removed meanwhile, or a symlink (ELOOP)
  }
  try {
    // Checked on the open file, so what is read is what was checked.
    if (!isOwnedFile(await handle.stat())) return undefined;
    return await handle.readFile('utf8');
  } catch {
    return undefined;
  } finally {
    await handle.close();
  }
}

/** readOwnedFile for callers that are synchronous (the runner's pointers). */
export function readOwnedFileSync(file: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(file, openFlags);
  } catch {
    return undefined;
  }
  try {
    return isOwnedFile(fstatSync(fd)) ? readFileSync(fd, 'utf8') : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `file` atomically (a temp file beside it, then a rename), readable by its
 * owner only. The temp file is created afresh (O_EXCL), so its mode is the one
 * asked for and a symlink planted at its name is never followed.
 */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await rm(temp, { force: true });
  await writeFile(temp, text, { mode: 0o600, flag: 'wx' });
  await rename(temp, file);
}

/** writePrivateFile for callers that are synchronous (the runner's state and pointers). */
export function writePrivateFileSync(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  rmSync(temp, { force: true });
  writeFileSync(temp, text, { mode: 0o600, flag: 'wx' });
  renameSync(temp, file);
}

/**
 * Whether `pid` is a live process of this user. Another user's pid is not one of
 * ours, whatever an entry naming it claims (a plant, or our pid reused since ours
 * died): an ordinary user learns that from EPERM; root, whose signal 0 reaches
 * every process, from the owner of /proc/<pid>.
 */
export function isProcessAlive(pid: number): boolean {
  // Signal 0 to 0 or a negative pid would probe a whole process group.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false; // ESRCH: gone; EPERM: another user's
  }
  if (uid !== 0 || !procfs) return true;
  try {
    return statSync(`/proc/${pid}`).uid === 0;
  } catch {
    return false; // exited since the signal
  }
}
