import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import {
  GRAPHIQL_ASSETS_PATH,
  GRAPHIQL_CONTENT_SECURITY_POLICY,
} from '../src/server/plugins/use-graphiql.js';
import { browserSkipReason, useChromium } from './support/browser.js';
import { withClient } from './support/database.js';
import { disposeAfterEach, waitFor } from './support/dispose.js';
import { startTestServer } from './support/server.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const skipReason = browserSkipReason('GraphiQL');
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

  /** Pastes a document into the active tab's editor, replacing what is there, and runs it. */
  async function run(page: Page, document: string): Promise<void> {
    const editor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await editor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.insertText(document);
    await page.locator('.graphiql-execute-button').click();
  }

  it('runs the README query and a statsChanged subscription that shows a new version after a write, offline', async () => {
    const server = await startTestServer({ GRAPHIQL: 'true' }, { disposer: dispose });
    const origin = new URL(server.url).origin;
    const { consultants, statsChanged } = await readmeDocuments();

    const context = await browser().newContext({ viewport: { width: 1400, height: 1000 } });
    dispose.add(() => context.close());
    // Anything for another origin is recorded and refused, as it would fail offline.
    const foreign: string[] = [];
    await context.route(
      (url) => url.origin !== origin && url.protocol !== 'blob:' && url.protocol !== 'data:',
      (route) => {
        foreign.push(route.request().url());
        return route.abort();
      },
    );
    const page = await context.newPage();
    const pageErrors: Error[] = [];
    const sockets: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error));
    page.on('websocket', (socket) => sockets.push(socket.url()));

    const response = await page.goto(server.graphqlUrl);
    expect(response?.status()).toBe(200);
    await page.locator('.graphiql-execute-button').waitFor({ timeout: LIVE_TIMEOUT_MS });

    // The README's consultants query: the first page and the API's count.
    const { body } = await server.query('{ consultants(first: 1) { totalCount } }');
    const total: number = body.data.consultants.totalCount;
    await run(page, consultants);
    await waitFor(
      async () => (await resultPane(page)).includes(`"totalCount": ${total}`),
      LIVE_TIMEOUT_MS,
    );
    expect(await resultPane(page)).toContain('"fullName"');

    // The subscription, in a new tab, over graphql-ws on this origin.
    await page.locator('.graphiql-tab-add').click();
    await run(page, statsChanged);
    const versionIn = (text: string) => {
      const match = /"version": "(\d+)"/.exec(text);
      return match ? BigInt(match[1] ?? '0') : undefined;
    };
    const first = await waitFor(async () => versionIn(await resultPane(page)), LIVE_TIMEOUT_MS);
    expect(await resultPane(page)).toContain(`"total": ${total}`);
    expect(sockets).toEqual([`${origin.replace(/^http/, 'ws')}/graphql`]);

    await withClient(server.databaseUrl, (client) =>
      client.query(
        `INSERT INTO consultants (first_name, last_name, email, practice_id, grade, daily_rate, availability)
         VALUES ('Gina', 'GraphiQL', 'gina.graphiql@example.test', (SELECT min(id) FROM practices), 'SENIOR', 850, 'AVAILABLE')`,
      ),
    );

    const next = await waitFor(async () => {
      const version = versionIn(await resultPane(page));
      return version !== undefined && version > first && version;
    }, LIVE_TIMEOUT_MS);
    expect(next).toBeGreaterThan(first);
    expect(await resultPane(page)).toContain(`"total": ${total + 1}`);
    expect(foreign).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
