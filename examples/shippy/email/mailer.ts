/**
 * Sending mail with nodemailer: over SMTP when `SMTP_URL` is set, else as `.eml`
 * files in `<data dir>/email/outbox/` (open them with any mail client). A file is
 * named after the event that caused it and written atomically (temp file, then
 * rename), so a reader never sees half a mail and a repeat replaces, never adds.
 * Mails are personal data: the folder is 0700 and every file 0600.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Transporter } from 'nodemailer';

export interface Mail {
  /** Identifies the mail (the event id): the `.eml` name and the Message-ID. */
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

export interface Mailer {
  /** Where it delivers, for the startup log: `smtp://host:port` or the outbox folder. */
  readonly target: string;
  send(mail: Mail): Promise<void>;
  close(): void;
}

/**
 * A nodemailer transport made by the first mail, not at start: nodemailer is ~9 MB
 * of RSS, and an email service spends most of its life waiting for events.
 */
function lazyTransport(options: string | Record<string, unknown>) {
  let transport: Promise<Transporter> | undefined;
  return {
    get: () => {
      transport ??= import('nodemailer').then(({ default: nodemailer }) =>
        nodemailer.createTransport(options),
      );
      return transport;
    },
    close: () => void transport?.then((made) => made.close()),
  };
}

export async function createMailer(settings: { smtpUrl?: string; berthDataDir: string }): Promise<Mailer> {
  if (settings.smtpUrl) {
    const transport = lazyTransport(settings.smtpUrl);
    const url = new URL(settings.smtpUrl);
    return {
      target: `${url.protocol}//${url.host}`,
      async send(mail) {
        await (await transport.get()).sendMail(message(mail));
      },
      close: transport.close,
    };
  }
  const dir = join(settings.berthDataDir, 'email', 'outbox');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // A folder an earlier version made keeps its mode through mkdir.
  await chmod(dir, 0o700);
  const transport = lazyTransport({ streamTransport: true, buffer: true, newline: 'unix' });
  return {
    target: dir,
    async send(mail) {
      const info = await (await transport.get()).sendMail(message(mail));
      const file = join(dir, `${fileSafe(mail.id)}.eml`);
      const temp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      try {
        await writeFile(temp, info.message as Buffer, { mode: 0o600, flag: 'wx' });
        await rename(temp, file);
      } finally {
        await rm(temp, { force: true });
      }
    },
    close: transport.close,
  };
}

function message(mail: Mail) {
  return {
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    text: mail.text,
    html: mail.html,
    // A stable Message-ID lets mail systems drop a duplicate that slipped through.
    messageId: `<${fileSafe(mail.id)}@shippy.email>`,
  };
}

/** `id` when it is a safe file name (event ids are UUIDs), else its SHA-256 in hex. */
function fileSafe(id: string): string {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id) ? id : createHash('sha256').update(id).digest('hex');
}
