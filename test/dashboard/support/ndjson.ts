/** The lines of an NDJSON body, each parsed as it arrives (POST /api/stream's answer). */
export async function* ndjsonLines(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  while (true) {
    const { done, value } = await reader.read();
    pending += decoder.decode(value, { stream: !done });
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      yield JSON.parse(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
    if (done) break;
  }
  if (pending.trim() !== '') yield JSON.parse(pending);
}
