import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { browserSkipReason, useChromium } from './support/browser.js';
import { createTestDatabase, insertAvailableConsultant } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { startTestServer, type TestServer } from './support/server.js';

const skipReason = browserSkipReason('dashboard');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT_DIR = path.join(root, 'test-output');
const LIVE_TIMEOUT_MS = 15_000;
/** The page reads without a token, as in the embedded demo where both are on by default. */
const DASHBOARD_ON = { DASHBOARD: 'true', ALLOW_ANONYMOUS_READS: 'true' };

const dispose = disposeAfterEach();

interface TableRow {
  id: string;
  name: string;
  email: string;
  practice: string;
  availability: string;
}

async function kpi(page: Page, key: string): Promise<number> {
  const value = await page.locator(`[data-kpi="${key}"] .kpi-value`).getAttribute('data-value');
  return value ? Number(value) : Number.NaN;
}

function connectionState(page: Page): Promise<string | null> {
  return page.locator('#connection').getAttribute('data-state');
}

function readRows(page: Page): Promise<TableRow[]> {
  return page.locator('#consultants-rows tr').evaluateAll((rows) =>
    rows.map((row) => {
      const text = (selector: string) => row.querySelector(selector)?.textContent ?? '';
      return {
        id: row.getAttribute('data-id') ?? '',
        name: text('.full-name'),
        email: text('.email'),
        practice: text('.practice'),
        availability: text('.availability'),
      };
    }),
  );
}

async function pageTotal(page: Page): Promise<number> {
  return Number(await page.locator('#page-label').getAttribute('data-total'));
}

/** Waits until the table shows rows different from `previous` (a new page or filter took effect). */
async function waitForNewRows(page: Page, previous: TableRow[]): Promise<TableRow[]> {
  const before = previous.map((row) => row.id).join();
  return waitFor(async () => {
    const rows = await readRows(page);
    return rows.length > 0 && rows.map((row) => row.id).join() !== before && rows;
  }, LIVE_TIMEOUT_MS);
}

describe.skipIf(skipReason !== undefined)('the live dashboard in headless Chromium', () => {
  const browser = useChromium();

  /** A fresh browser context on the dashboard, closed after the test; uncaught page errors are collected. */
  async function openDashboard(server: TestServer): Promise<{ page: Page; pageErrors: Error[] }> {
    const context = await browser().newContext({ viewport: { width: 1360, height: 1000 } });
    dispose.add(() => context.close());
    const page = await context.newPage();
    const pageErrors: Error[] = [];
    page.on('pageerror', (error) => pageErrors.push(error));
    const response = await page.goto(`${server.url}/dashboard`);
    expect(response?.status()).toBe(200);
    await waitFor(async () => (await connectionState(page)) === 'live', LIVE_TIMEOUT_MS);
    await waitFor(async () => (await readRows(page)).length > 0, LIVE_TIMEOUT_MS);
    return { page, pageErrors };
  }

  it('is served only when enabled', async () => {
    const enabled = await startTestServer(DASHBOARD_ON, { disposer: dispose });
    const disabled = await startTestServer({}, { disposer: dispose });
    const page = await fetch(`${enabled.url}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const script = await fetch(`${enabled.url}/dashboard/main.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toContain('text/javascript');
    // Bundled for the browser: graphql-ws is inside, nothing is left to import.
    const source = await script.text();
    expect(source).toContain('graphql-transport-ws');
    expect(source).not.toMatch(/\bimport\s*[{(*"']/);
    expect((await fetch(`${enabled.url}/dashboard/nope.js`)).status).toBe(404);
    expect((await fetch(`${disabled.url}/dashboard`)).status).toBe(404);
  });

  it('updates the KPI tiles from a write committed in PostgreSQL, without a reload', async () => {
    const server = await startTestServer(DASHBOARD_ON, { disposer: dispose });
    const { page, pageErrors } = await openDashboard(server);
    const { body } = await server.query('{ stats { version consultants { total available } } }');
    const { total, available } = body.data.stats.consultants;
    await waitFor(async () => (await kpi(page, 'consultants')) === total, LIVE_TIMEOUT_MS);
    expect(await kpi(page, 'available')).toBe(available);
    const versionBefore = await page.locator('#stats-version').textContent();
    expect(versionBefore).toBe(body.data.stats.version);
    // Survives only if the page is never reloaded.
    await page.evaluate('window.__sameDocument = true');

    await insertAvailableConsultant(server.databaseUrl, 'dana.dashboard@example.test');

    await waitFor(async () => (await kpi(page, 'consultants')) === total + 1, LIVE_TIMEOUT_MS);
    expect(await kpi(page, 'available')).toBe(available + 1);
    const versionAfter = await page.locator('#stats-version').textContent();
    expect(BigInt(versionAfter ?? '0')).toBeGreaterThan(BigInt(versionBefore ?? '0'));
    expect(await page.evaluate('window.__sameDocument')).toBe(true);
    expect(await connectionState(page)).toBe('live');
    // The charts are redrawn from the same push: one bar per practice, as many as the API knows.
    expect(await page.locator('#chart-practices .bar-row').count()).toBe(
      (await server.query('{ practices { id } }')).body.data.practices.length,
    );
    expect(await page.locator('#chart-skills .bar-row').count()).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
  });

  it('pages forward and back through the consultants, filters and searches', async () => {
    const server = await startTestServer(DASHBOARD_ON, { disposer: dispose });
    const { page, pageErrors } = await openDashboard(server);

    const firstPage = await readRows(page);
    expect(firstPage).toHaveLength(10);
    await page.click('#page-next');
    const secondPage = await waitForNewRows(page, firstPage);
    expect(secondPage).toHaveLength(10);
    const firstIds = new Set(firstPage.map((row) => row.id));
    expect(secondPage.filter((row) => firstIds.has(row.id))).toEqual([]);
    await page.click('#page-next');
    const thirdPage = await waitForNewRows(page, secondPage);
    await page.click('#page-previous');
    expect(await waitForNewRows(page, thirdPage)).toEqual(secondPage);
    await page.click('#page-previous');
    expect(await waitForNewRows(page, secondPage)).toEqual(firstPage);
    expect(await page.locator('#page-previous').isDisabled()).toBe(true);

    // Filters: one practice, available consultants only; the count is the API's.
    const practice = (await server.query('{ practices { id name } }')).body.data.practices[1];
    const expected = await server.query(
      'query($filter: ConsultantFilter) { consultants(first: 1, filter: $filter) { totalCount } }',
      { filter: { practiceIds: [practice.id], availability: ['AVAILABLE'] } },
    );
    const expectedTotal: number = expected.body.data.consultants.totalCount;
    expect(expectedTotal).toBeGreaterThan(0);
    await page.selectOption('#filter-practice', practice.id);
    await page.selectOption('#filter-availability', 'AVAILABLE');
    const filtered = await waitFor(async () => {
      const rows = await readRows(page);
      return (
        (await pageTotal(page)) === expectedTotal &&
        rows.length === Math.min(10, expectedTotal) &&
        rows.every((row) => row.practice === practice.name && row.availability === 'Available') &&
        rows
      );
    }, LIVE_TIMEOUT_MS);
    expect(filtered.length).toBeGreaterThan(0);

    // Search, with the filters cleared: every row matches the term.
    await page.selectOption('#filter-practice', '');
    await page.selectOption('#filter-availability', '');
    await page.fill('#filter-search', 'mar');
    const searchTotal: number = (
      await server.query('{ consultants(first: 1, filter: { search: "mar" }) { totalCount } }')
    ).body.data.consultants.totalCount;
    expect(searchTotal).toBeGreaterThan(0);
    const matches = await waitFor(async () => {
      const rows = await readRows(page);
      return (
        (await pageTotal(page)) === searchTotal &&
        rows.length > 0 &&
        rows.every((row) => `${row.name} ${row.email}`.toLowerCase().includes('mar')) &&
        rows
      );
    }, LIVE_TIMEOUT_MS);
    expect(matches.length).toBe(Math.min(10, searchTotal));

    // A search that only the row written below can match: it appears after the push, live.
    await page.fill('#filter-search', 'dana.dashboard');
    await waitFor(
      async () => (await page.locator('#page-label').textContent()) === 'No consultant matches',
      LIVE_TIMEOUT_MS,
    );
    await insertAvailableConsultant(server.databaseUrl, 'dana.dashboard@example.test');
    const found = await waitFor(async () => {
      const rows = await readRows(page);
      return rows.length === 1 && rows;
    }, LIVE_TIMEOUT_MS);
    expect(found[0]).toMatchObject({
      name: 'Dana Example',
      email: 'dana.dashboard@example.test',
    });

    await page.fill('#filter-search', '');
    await waitFor(async () => (await readRows(page)).length === 10, LIVE_TIMEOUT_MS);
    expect(await connectionState(page)).toBe('live');
    await mkdir(OUTPUT_DIR, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT_DIR, 'dashboard.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('shows reconnecting, then offline, then live with fresh numbers when the API restarts', async () => {
    const database = await createTestDatabase();
    dispose.add(() => database.drop());
    const first = await startTestServer(DASHBOARD_ON, { database, disposer: dispose });
    const port = new URL(first.url).port;
    const { page, pageErrors } = await openDashboard(first);
    const total = (await first.query('{ stats { consultants { total } } }')).body.data.stats
      .consultants.total;
    await waitFor(async () => (await kpi(page, 'consultants')) === total, LIVE_TIMEOUT_MS);

    await first.stop();
    const stateAfterStop = await waitFor(async () => {
      const state = await connectionState(page);
      return state !== 'live' && state;
    }, LIVE_TIMEOUT_MS);
    expect(stateAfterStop).toBe('reconnecting');
    // Written while no API runs: only a fresh computation after the restart can show it.
    await insertAvailableConsultant(database.url, 'dana.dashboard@example.test');
    await waitFor(async () => (await connectionState(page)) === 'offline', LIVE_TIMEOUT_MS);

    await startTestServer({ ...DASHBOARD_ON, PORT: port }, { database, disposer: dispose });
    await waitFor(async () => (await connectionState(page)) === 'live', LIVE_TIMEOUT_MS);
    await waitFor(async () => (await kpi(page, 'consultants')) === total + 1, LIVE_TIMEOUT_MS);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
