import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** writeSyncedTemp writes text to a fresh temporary file beside `path`, flushed to disk, and returns its name. */
export function writeSyncedTemp(path: string, text: string, mode = 0o600): string {
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/** writeFileDurably replaces a file atomically: a synced temporary file renamed over it, then the folder synced. */
export function writeFileDurably(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  renameSync(writeSyncedTemp(path, text), path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
