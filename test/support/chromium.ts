import { existsSync } from 'node:fs';

/** Flags for a headless browser on a machine without network: no background connections, no first-run work. */
const QUIET = ['--headless', '--lang=en-GB', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Where a system chromium usually is on Debian, Ubuntu and Fedora. */
const SYSTEM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium', '/snap/bin/chromium'];

/** Flags of @sparticuz/chromium that serve AWS Lambda, not a test machine (see findChromium). */
const LAMBDA_ONLY = new Set(['--single-process', '--in-process-gpu', '--disable-web-security']);

export interface BrowserToLaunch {
  readonly executablePath: string;
  readonly args: string[];
  /** Where it came from, for the test's log: `CHROMIUM_PATH`, `system` or `@sparticuz/chromium`. */
  readonly source: string;
}

/**
 * findChromium picks the browser the tests drive, in this order: `CHROMIUM_PATH` if set,
 * a system chromium if present, else the Chromium inside the npm package
 * `@sparticuz/chromium` (a devDependency), so `npm install && npm test` needs nothing but
 * Node. The package's `executablePath()` unpacks the binary shipped in the package to a
 * temporary folder; it is launched with the package's own flags, except three made for
 * AWS Lambda: `--single-process` and `--in-process-gpu` (one process per browser is
 * fragile with several pages: renderers crashed mid-test) and `--disable-web-security`
 * (the dashboard is tested under the browser's normal rules).
 */
export async function findChromium(env: NodeJS.ProcessEnv = process.env): Promise<BrowserToLaunch> {
  if (env.CHROMIUM_PATH) {
    if (!existsSync(env.CHROMIUM_PATH)) throw new Error(`CHROMIUM_PATH=${env.CHROMIUM_PATH} does not exist`);
    return { executablePath: env.CHROMIUM_PATH, args: QUIET, source: 'CHROMIUM_PATH' };
  }
  const system = SYSTEM.find((p) => existsSync(p));
  if (system) return { executablePath: system, args: QUIET, source: 'system' };
  const { default: packaged } = await import('@sparticuz/chromium');
  const args = packaged.args.filter((a) => !LAMBDA_ONLY.has(a));
  return {
    executablePath: await packaged.executablePath(),
    args: [...new Set([...args, ...QUIET.filter((a) => a !== '--headless')])],
    source: '@sparticuz/chromium',
  };
}

