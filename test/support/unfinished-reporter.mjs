/**
 * A node:test reporter that fails the run when a test file ends without reporting its
 * tests. Node 20's runner counts a file whose process exits early (with status 0, from
 * inside a `before` hook, say) as one passing test named by the file, and its tests are
 * in no count: a green run that ran none of them. Here every test the files announced
 * (test:enqueue) must pass, fail or be skipped, and no file may pass as a whole on its
 * own; else the run's status is 1 and the files are named.
 *
 * Used beside the spec reporter: --test-reporter=./test/support/unfinished-reporter.mjs
 * --test-reporter-destination=stderr.
 */
export default async function* unfinished(source) {
  /** Tests announced and not yet ended, by file, depth and name. */
  const open = new Map();
  /** Files that passed as one test: their process reported no test of its own. */
  const whole = new Set();
  const idOf = (d) => `${d.file}\u0000${d.nesting}\u0000${d.name}`;
  for await (const event of source) {
    const d = event.data;
    if (!d || typeof d.file !== 'string') continue;
    const id = idOf(d);
    if (event.type === 'test:enqueue') open.set(id, { data: d, count: (open.get(id)?.count ?? 0) + 1 });
    else if (event.type === 'test:pass' || event.type === 'test:fail') {
      const o = open.get(id);
      if (o && --o.count === 0) open.delete(id);
      if (event.type === 'test:pass' && d.nesting === 0 && d.name === d.file) whole.add(d.file);
    }
  }
  const never = new Map();
  for (const { data } of open.values()) {
    if (data.nesting === 0 && data.name === data.file) continue;
    never.set(data.file, [...(never.get(data.file) ?? []), data.name]);
  }
  const files = [...new Set([...whole, ...never.keys()])].sort();
  if (files.length === 0) return;
  process.exitCode = 1;
  yield `\n✖ ${files.length} test file(s) ended without reporting their tests (the process exited before they ran), so those tests neither passed nor failed:\n`;
  for (const f of files) yield `  ${f}${never.has(f) ? `: ${never.get(f).map((n) => JSON.stringify(n)).join(', ')} never finished` : ''}\n`;
}
