import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (no browser download), or the one DWG_CHROMIUM names. */
const CHROMIUM = process.env.DWG_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Headless Chromium for tests and benchmarks. Root in a container: no user namespaces for the sandbox; no GPU;
 * no background traffic (this machine reaches nothing beyond loopback). `extraArgs`: e.g. `--disable-http2`.
 */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}
