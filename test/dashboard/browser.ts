// The browser for the dashboard's page tests: Debian's Chromium when it is installed, otherwise
// the Chromium build that the npm package @sparticuz/chromium ships (unpacked on first use).
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const SYSTEM_CHROMIUM = '/usr/bin/chromium';
// Flags for a headless run on a machine with no network: without the background-networking
// ones Chromium keeps dialing out and waits on refused connections.
const SYSTEM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where the browser comes from, for the test's name and error messages. */
export function browserSource(): string {
  const override = process.env.ACTORCLUSTER_CHROMIUM;
  if (override) return override;
  return existsSync(SYSTEM_CHROMIUM) ? SYSTEM_CHROMIUM : '@sparticuz/chromium (npm)';
}

/** Launches a headless Chromium: ACTORCLUSTER_CHROMIUM, /usr/bin/chromium, or the npm one. */
export async function launchBrowser(): Promise<Browser> {
  const override = process.env.ACTORCLUSTER_CHROMIUM;
  if (override || existsSync(SYSTEM_CHROMIUM)) {
    return chromium.launch({ executablePath: override || SYSTEM_CHROMIUM, args: SYSTEM_ARGS });
  }
  const { default: packaged } = await import('@sparticuz/chromium');
  const executablePath = await packaged.executablePath();
  return chromium.launch({ executablePath, args: packaged.args, headless: true });
}
