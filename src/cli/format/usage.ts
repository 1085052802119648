/** The "Options:" block of a usage text, descriptions aligned whatever the flags' lengths. */
export function formatOptions(options: ReadonlyArray<readonly [flags: string, description: string]>): string {
  const width = Math.max(...options.map(([flags]) => flags.length));
  return `Options:\n${options.map(([flags, description]) => `  ${flags.padEnd(width)}   ${description}`).join('\n')}`;
}
