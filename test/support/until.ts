import assert from 'node:assert/strict';

/**
 * until polls `ok` every 20 ms until it holds, and fails naming `what` after `ms`: for what a
 * test waits on that happens a moment later (a push, a checkpoint, a log line), in place of a
 * fixed sleep that is too short on a busy machine and too long on an idle one.
 */
export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  for (const t0 = Date.now(); !(await ok());) {
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
