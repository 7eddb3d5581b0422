import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/** Debian's `chromium` package; CI installs it (see .ci/run). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Why the browser tests of `suite` cannot run here, or undefined when they
 * can. A missing Chromium skips them with a notice, unless
 * REQUIRE_BROWSER_TESTS=1 (as in CI) makes it a failure: then they run and
 * {@link launchChromium} fails.
 */
export function browserSkipReason(suite: string): string | undefined {
  if (existsSync(CHROMIUM) || process.env.REQUIRE_BROWSER_TESTS === '1') return undefined;
  const reason = `${CHROMIUM} not found (apt-get install chromium; REQUIRE_BROWSER_TESTS=1 makes this a failure)`;
  console.warn(`${suite} browser tests skipped: ${reason}`);
  return reason;
}

/** Headless Debian Chromium driven by playwright-core; the caller closes it. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `REQUIRE_BROWSER_TESTS=1 but ${CHROMIUM} is missing (apt-get install chromium)`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

/**
 * One Chromium for the calling `describe` block: launched before its tests,
 * closed after them. Returns a getter, valid inside the tests.
 */
export function useChromium(): () => Browser {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(() => browser?.close());
  return () => {
    if (!browser) throw new Error('Chromium is not running (used outside a test?)');
    return browser;
  };
}
