import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { describe, expect, it, onTestFailed } from 'vitest';
import {
  GRAPHIQL_ASSETS_PATH,
  GRAPHIQL_CONTENT_SECURITY_POLICY,
} from '../src/server/plugins/use-graphiql.js';
import { browserSkipReason, useChromium } from './support/browser.js';
import { insertAvailableConsultant } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { startTestServer, type TestServer } from './support/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const skipReason = browserSkipReason('GraphiQL');
const OUTPUT_DIR = path.join(root, 'test-output');
let screenshots = 0;
const LIVE_TIMEOUT_MS = 20_000;
/** What a browser sends when a person opens the URL. */
const HTML_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

const dispose = disposeAfterEach();

/** The README's GraphQL blocks, so the documented queries are the ones that run. */
async function readmeDocuments(): Promise<{ consultants: string; statsChanged: string }> {
  const readme = await readFile(path.join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((match) => match[1] ?? '');
  const consultants = blocks.find((block) => /^\s*query\b[\s\S]*\bconsultants\(/m.test(block));
  const statsChanged = blocks.find((block) =>
    /^\s*subscription\b[\s\S]*\bstatsChanged\b/m.test(block),
  );
  if (!consultants || !statsChanged) {
    throw new Error('README.md lost its consultants query or its statsChanged subscription');
  }
  return { consultants, statsChanged };
}

/** The page's `src` and `href` references. */
function references(html: string): string[] {
  return [...html.matchAll(/\b(?:src|href)="([^"]*)"/g)].map((match) => match[1] ?? '');
}

describe('GraphiQL files', () => {
  it('come from the API itself: the page references nothing on another origin', async () => {
    const server = await startTestServer({ GRAPHIQL: 'true' }, { disposer: dispose });
    const page = await fetch(server.graphqlUrl, { headers: HTML_ACCEPT });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toBe(GRAPHIQL_CONTENT_SECURITY_POLICY);
    const html = await page.text();
    expect(html).not.toMatch(/(?:https?:)?\/\/[a-z0-9.-]+\.[a-z]/i);
    const refs = references(html);
    expect(refs.length).toBeGreaterThanOrEqual(4);
    for (const ref of refs) {
      expect(ref.startsWith(`${GRAPHIQL_ASSETS_PATH}/`), ref).toBe(true);
      const asset = await fetch(new URL(ref, server.url), {
        headers: { 'accept-encoding': 'gzip' },
      });
      expect(asset.status, ref).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, ref).toBeGreaterThan(0);
    }
    const script = await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}/graphiql.js`, {
      headers: { 'accept-encoding': 'gzip' },
    });
    expect(script.headers.get('content-type')).toContain('text/javascript');
    expect(script.headers.get('cache-control')).toContain('immutable');
    // The bundle is GraphiQL with its graphql-ws client inside.
    expect(await script.text()).toContain('graphql-transport-ws');
    expect((await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}/nope.js`)).status).toBe(404);
  });

  it('are not served when GraphiQL is off', async () => {
    const server = await startTestServer({ GRAPHIQL: 'false' }, { disposer: dispose });
    const page = await fetch(server.graphqlUrl, { headers: HTML_ACCEPT });
    expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
    expect((await fetch(`${server.url}${GRAPHIQL_ASSETS_PATH}/graphiql.js`)).status).toBe(404);
  });
});

describe.skipIf(skipReason !== undefined)('GraphiQL in headless Chromium', () => {
  const browser = useChromium();

  /** The result pane's text (Monaco shows spaces as no-break spaces). */
  async function resultPane(page: Page): Promise<string> {
    return (await page.locator('.graphiql-response').innerText()).replace(/\u00a0/g, ' ');
  }

  /**
   * Opens GraphiQL with `document` in its editor (GraphiQL's own shareable
   * `?query=` link) in a fresh browser context, and runs it. Every request
   * for another origin is recorded in `foreign` and refused, as it would fail
   * offline.
   */
  async function openAndRun(
    server: TestServer,
    document: string,
    seen: { foreign: string[]; sockets: string[]; pageErrors: Error[] },
  ): Promise<Page> {
    const origin = new URL(server.url).origin;
    const context = await browser().newContext({ viewport: { width: 1400, height: 1000 } });
    dispose.add(() => context.close());
    await context.route(
      (url) => url.origin !== origin && url.protocol !== 'blob:' && url.protocol !== 'data:',
      (route) => {
        seen.foreign.push(route.request().url());
        return route.abort();
      },
    );
    const page = await context.newPage();
    // What the page showed, for a failure on a machine nobody watches.
    onTestFailed(async () => {
      await mkdir(OUTPUT_DIR, { recursive: true });
      await page.screenshot({ path: path.join(OUTPUT_DIR, `graphiql-${++screenshots}.png`) });
    });
    page.on('pageerror', (error) => seen.pageErrors.push(error));
    page.on('websocket', (socket) => seen.sockets.push(socket.url()));
    const response = await page.goto(`${server.graphqlUrl}?query=${encodeURIComponent(document)}`);
    expect(response?.status()).toBe(200);
    const run = page.locator('.graphiql-execute-button');
    await run.waitFor({ timeout: LIVE_TIMEOUT_MS });
    // The editor shows the document before it runs.
    const firstLine = document.split('\n').find((line) => /^\s*(query|subscription)\b/.test(line));
    await waitFor(
      async () =>
        (await page.locator('.graphiql-query-editor').innerText())
          .replace(/\u00a0/g, ' ')
          .includes(firstLine?.trim() ?? '?'),
      LIVE_TIMEOUT_MS,
    );
    await run.click();
    return page;
  }

  it('runs the README query and a statsChanged subscription that shows a new version after a write, offline', async () => {
    const server = await startTestServer({ GRAPHIQL: 'true' }, { disposer: dispose });
    const origin = new URL(server.url).origin;
    const { consultants, statsChanged } = await readmeDocuments();
    const seen = { foreign: [] as string[], sockets: [] as string[], pageErrors: [] as Error[] };

    // The README's consultants query: the first page and the API's count.
    const { body } = await server.query('{ consultants(first: 1) { totalCount } }');
    const total: number = body.data.consultants.totalCount;
    const page = await openAndRun(server, consultants, seen);
    await waitFor(
      async () => (await resultPane(page)).includes(`"totalCount": ${total}`),
      LIVE_TIMEOUT_MS,
    );
    expect(await resultPane(page)).toContain('"fullName"');

    // The subscription, over graphql-ws on this origin.
    const live = await openAndRun(server, statsChanged, seen);
    const versionIn = (text: string) => {
      const match = /"version": "(\d+)"/.exec(text);
      return match ? BigInt(match[1] ?? '0') : undefined;
    };
    const first = await waitFor(async () => versionIn(await resultPane(live)), LIVE_TIMEOUT_MS);
    expect(await resultPane(live)).toContain(`"total": ${total}`);
    expect(seen.sockets).toEqual([`${origin.replace(/^http/, 'ws')}/graphql`]);

    await insertAvailableConsultant(server.databaseUrl, 'gina.graphiql@example.test');

    const next = await waitFor(async () => {
      const version = versionIn(await resultPane(live));
      return version !== undefined && version > first && version;
    }, LIVE_TIMEOUT_MS);
    expect(next).toBeGreaterThan(first);
    expect(await resultPane(live)).toContain(`"total": ${total + 1}`);
    expect(seen.foreign).toEqual([]);
    expect(seen.pageErrors).toEqual([]);
  }, 60_000);
});
