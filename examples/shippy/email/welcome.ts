/** The welcome mail a new user receives: plain text and a simple HTML version. */

export interface WelcomeMail {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

const htmlEscapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => htmlEscapes[char]);
}

export function renderWelcome(user: { readonly name: string; readonly company: string }): WelcomeMail {
  const company = user.company ? ` of ${user.company}` : '';
  const text = [
    `Hello ${user.name}${company},`,
    '',
    'welcome to Shippy. Your account is ready: sign in to create consignments,',
    'and we will find a vessel that can carry them.',
    '',
    'Fair winds,',
    'The Shippy team',
    '',
  ].join('\n');
  const html = [
    '<!doctype html>',
    '<html><body style="font-family: sans-serif">',
    `<p>Hello ${escapeHtml(user.name)}${escapeHtml(company)},</p>`,
    '<p>welcome to <strong>Shippy</strong>. Your account is ready: sign in to create consignments,',
    'and we will find a vessel that can carry them.</p>',
    '<p>Fair winds,<br>The Shippy team</p>',
    '</body></html>',
    '',
  ].join('\n');
  return { subject: `Welcome to Shippy, ${user.name}`, text, html };
}
