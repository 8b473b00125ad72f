/**
 * eachLine calls `line(text, from, to)` with every line of a text given in chunks, as the
 * range [from, to) of a decoded string, so that a reader can take a line apart without a
 * string per line, and synchronously within a chunk, without an asynchronous step per line.
 * Lines are split as node:readline with `crlfDelay: Infinity` splits them: a line ends at \n,
 * \r\n or a lone \r; a last line without an end counts unless it is empty; a BOM is kept; a
 * character cut off by the end of the text is dropped. Bytes are decoded as UTF-8, invalid
 * ones replaced.
 */
export async function eachLine(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, line: (text: string, from: number, to: number) => void): Promise<void> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let rest = '';
  const take = (text: string, final: boolean) => {
    let from = 0;
    const n = text.length;
    // The next \r and \n are looked for again only once passed: a text without one of them
    // is scanned for it once.
    let cr = text.indexOf('\r');
    let lf = text.indexOf('\n');
    for (;;) {
      if (lf >= 0 && lf < from) lf = text.indexOf('\n', from);
      if (cr >= 0 && cr < from) cr = text.indexOf('\r', from);
      const at = lf < 0 ? cr : cr < 0 ? lf : Math.min(lf, cr);
      if (at < 0) break;
      // A \r at the very end may be the first half of \r\n: wait for the next chunk.
      if (at === cr && at === n - 1 && !final) break;
      line(text, from, at);
      from = at + (at === cr && text.charCodeAt(at + 1) === 10 ? 2 : 1);
    }
    rest = text.slice(from);
  };
  for await (const chunk of chunks) take(rest + decoder.decode(chunk, { stream: true }), false);
  // The bytes of a character cut off by the end of the file are dropped, as readline drops them.
  take(rest, true);
  if (rest.length > 0) line(rest, 0, rest.length);
}
