import { chromium, type Browser } from 'playwright-core';
import { track } from './resources.js';

/** Debian's headless Chromium (CHROMIUM_PATH overrides), tracked so a test file that leaves it open fails. */
export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  track('headless chromium', () => browser.isConnected());
  return browser;
}
