/** The `export NAME=value` lines a tool printed (tools/k8s/up.sh's env file, real-backends.sh), as environment entries. */
export function parseExports(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export (\w+)=(.*)$/.exec(line);
    if (match) env[match[1]!] = match[2]!;
  }
  return env;
}
