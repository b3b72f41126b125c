import { mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

export const RESULTS_DIR = 'test-results';

/** Headless Chromium from the system (Debian's package), with no background networking. */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(RESULTS_DIR, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
