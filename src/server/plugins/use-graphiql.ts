import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';

/**
 * GraphiQL served from the API's own origin. Yoga's default page loads
 * GraphiQL, its stylesheet and Monaco's workers from a public CDN, so without
 * internet access it never gets past "Loading…". `@graphql-yoga/render-graphiql`
 * ships the same build (the GraphiQL yoga renders, with its graphql-ws and SSE
 * fetchers) as strings; its own renderer inlines all of them, about 9 MB of
 * HTML on every visit. Here the page is a few hundred bytes and the build is
 * served as separate files under a versioned path, cached by the browser for
 * good and gzipped once.
 */

const version: string = (
  createRequire(import.meta.url)('@graphql-yoga/render-graphiql/package.json') as {
    version: string;
  }
).version;

/** Where the files live; the version in the path lets the browser keep them forever. */
export const GRAPHIQL_ASSETS_PATH = `/graphiql/${version}`;

/**
 * Everything the page may load or connect to is on this origin: the policy is
 * what keeps a future GraphiQL build from reaching out unnoticed. GraphiQL
 * (React, Monaco) sets inline styles, hence `'unsafe-inline'` for styles only;
 * fonts and icons are data: URIs inside the stylesheet.
 */
export const GRAPHIQL_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

type BuildKey = 'js' | 'css' | 'favicon' | 'editorWorkerService' | 'jsonWorker' | 'graphqlWorker';

/** File name → the export of render-graphiql's build holding it. */
const FILES: Record<string, { key: BuildKey; contentType: string }> = {
  'graphiql.js': { key: 'js', contentType: 'text/javascript; charset=utf-8' },
  'graphiql.css': { key: 'css', contentType: 'text/css; charset=utf-8' },
  'favicon.ico': { key: 'favicon', contentType: 'image/x-icon' },
  'editor.worker.js': { key: 'editorWorkerService', contentType: 'text/javascript; charset=utf-8' },
  'json.worker.js': { key: 'jsonWorker', contentType: 'text/javascript; charset=utf-8' },
  'graphql.worker.js': { key: 'graphqlWorker', contentType: 'text/javascript; charset=utf-8' },
};

/** Monaco asks for a worker by label; the labels are the ones render-graphiql's page uses. */
const WORKERS: Record<string, string> = {
  editorWorkerService: 'editor.worker.js',
  json: 'json.worker.js',
  graphql: 'graphql.worker.js',
};

/**
 * Runs before the GraphiQL bundle (Monaco reads `MonacoEnvironment` when it
 * starts a worker) and renders once the document, bundle included, is parsed.
 * The options come from a JSON block rather than inline code, so the page
 * needs no `'unsafe-inline'` script.
 */
const START_SCRIPT = `'use strict';
(function () {
  var base = ${JSON.stringify(`${GRAPHIQL_ASSETS_PATH}/`)};
  var workers = ${JSON.stringify(WORKERS)};
  self.MonacoEnvironment = {
    globalAPI: false,
    getWorkerUrl: function (_moduleId, label) { return base + workers[label]; },
  };
  document.addEventListener('DOMContentLoaded', function () {
    var options = JSON.parse(document.getElementById('graphiql-options').textContent);
    YogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), options);
  });
})();
`;

interface Asset {
  body: Buffer;
  gzipped: Buffer;
  contentType: string;
}

const gzipAsync = promisify(gzip);

async function toAsset(body: Buffer, contentType: string): Promise<Asset> {
  return { body, gzipped: await gzipAsync(body), contentType };
}

async function loadAssets(): Promise<Map<string, Asset>> {
  // 9 MB of strings: loaded on the first visit, not when the server starts.
  const build: Record<BuildKey, string> = await import('@graphql-yoga/render-graphiql/graphiql');
  const entries = await Promise.all(
    Object.entries(FILES).map(async ([name, { key, contentType }]) => {
      const text = build[key];
      // The favicon comes as a data: URI.
      const body = text.startsWith('data:')
        ? Buffer.from(text.slice(text.indexOf(',') + 1), 'base64')
        : Buffer.from(text);
      return [name, await toAsset(body, contentType)] as const;
    }),
  );
  entries.push([
    'start.js',
    await toAsset(Buffer.from(START_SCRIPT), 'text/javascript; charset=utf-8'),
  ]);
  return new Map(entries);
}

/** JSON that can sit inside a `<script>` element whatever strings it holds. */
function jsonForScriptElement(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** Yoga's `renderGraphiQL`: the page that loads GraphiQL from {@link GRAPHIQL_ASSETS_PATH}. */
export function renderGraphiQLPage(options: GraphiQLOptions): string {
  const title = escapeHtml(options.title ?? 'GraphiQL');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${title}</title>
    <link rel="icon" href="${GRAPHIQL_ASSETS_PATH}/favicon.ico" />
    <link rel="stylesheet" href="${GRAPHIQL_ASSETS_PATH}/graphiql.css" />
    <script type="application/json" id="graphiql-options">${jsonForScriptElement(options)}</script>
    <script src="${GRAPHIQL_ASSETS_PATH}/start.js"></script>
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
    <script src="${GRAPHIQL_ASSETS_PATH}/graphiql.js"></script>
  </body>
</html>
`;
}

function acceptsGzip(request: Request): boolean {
  return /\bgzip\b/.test(request.headers.get('accept-encoding') ?? '');
}

/**
 * Serves GraphiQL's files under {@link GRAPHIQL_ASSETS_PATH} and puts
 * {@link GRAPHIQL_CONTENT_SECURITY_POLICY} on the GraphiQL page yoga renders
 * at `graphqlEndpoint`. Use together with `renderGraphiQL: renderGraphiQLPage`.
 */
export function useGraphiQL({ graphqlEndpoint }: { graphqlEndpoint: string }): Plugin {
  let assets: Promise<Map<string, Asset>> | undefined;
  const loadOnce = () => {
    assets ??= loadAssets().catch((error: unknown) => {
      assets = undefined;
      throw error;
    });
    return assets;
  };

  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      const prefix = `${GRAPHIQL_ASSETS_PATH}/`;
      if (!url.pathname.startsWith('/graphiql/')) return;
      const name = url.pathname.startsWith(prefix) ? url.pathname.slice(prefix.length) : '';
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(new fetchAPI.Response(null, { status: 405, headers: { allow: 'GET, HEAD' } }));
        return;
      }
      const asset = (await loadOnce()).get(name);
      if (!asset) {
        // An old page asking for files of another version gets a 404 and a reload fixes it.
        endResponse(new fetchAPI.Response('Not found', { status: 404 }));
        return;
      }
      const gzipped = acceptsGzip(request);
      const headers: Record<string, string> = {
        'content-type': asset.contentType,
        'x-content-type-options': 'nosniff',
        vary: 'accept-encoding',
        // The start script is ours and may change without a new version in the path.
        'cache-control': name === 'start.js' ? 'no-cache' : 'public, max-age=31536000, immutable',
      };
      if (gzipped) headers['content-encoding'] = 'gzip';
      const body = gzipped ? asset.gzipped : asset.body;
      headers['content-length'] = String(body.byteLength);
      endResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : new Uint8Array(body), {
          headers,
        }),
      );
    },
    onResponse({ request, response }) {
      if (
        request.method === 'GET' &&
        new URL(request.url).pathname.replace(/\/$/, '') === graphqlEndpoint &&
        response.headers.get('content-type')?.startsWith('text/html')
      ) {
        response.headers.set('content-security-policy', GRAPHIQL_CONTENT_SECURITY_POLICY);
        response.headers.set('x-content-type-options', 'nosniff');
      }
    },
  };
}
