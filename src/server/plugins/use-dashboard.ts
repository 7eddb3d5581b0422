import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { type BuildFailure, build } from 'esbuild';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../../logger.js';
import { projectRoot } from '../../project-root.js';

/** Where the page's sources live: the example users copy is what the API serves. */
const DASHBOARD_DIR = path.join(projectRoot, 'client-examples', 'dashboard');
const BASE_PATH = '/dashboard';

interface Asset {
  body: string;
  contentType: string;
}

/**
 * The page only talks to its own origin (HTTP and WebSocket), draws its
 * charts with DOM calls and inlines nothing, so a strict policy costs nothing.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

async function bundleScript(): Promise<string> {
  const result = await build({
    entryPoints: [path.join(DASHBOARD_DIR, 'src/main.ts')],
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    // Failures are logged by the caller, once, with their locations.
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output) throw new Error('esbuild produced no output');
  return output.text;
}

async function loadAssets(): Promise<Map<string, Asset>> {
  const [html, css, script] = await Promise.all([
    readFile(path.join(DASHBOARD_DIR, 'index.html'), 'utf8'),
    readFile(path.join(DASHBOARD_DIR, 'styles.css'), 'utf8'),
    bundleScript(),
  ]);
  const page = { body: html, contentType: 'text/html; charset=utf-8' };
  return new Map([
    [BASE_PATH, page],
    [`${BASE_PATH}/`, page],
    [`${BASE_PATH}/styles.css`, { body: css, contentType: 'text/css; charset=utf-8' }],
    [`${BASE_PATH}/main.js`, { body: script, contentType: 'text/javascript; charset=utf-8' }],
  ]);
}

function describeBuildError(error: unknown): string {
  const messages = (error as Partial<BuildFailure>).errors;
  if (!Array.isArray(messages) || messages.length === 0) {
    return error instanceof Error ? error.message : String(error);
  }
  return messages
    .map(({ text, location }) =>
      location ? `${location.file}:${location.line}:${location.column}: ${text}` : text,
    )
    .join('; ');
}

/**
 * Serves the live dashboard (`client-examples/dashboard/`) at `/dashboard`:
 * the HTML, the stylesheet and the TypeScript bundled for the browser by
 * esbuild in memory, so `npm start` needs no build step. The bundle is built
 * on the first request and kept; a failed build is logged and retried on the
 * next request.
 */
export function useDashboard({ log }: { log: Logger }): Plugin {
  let assets: Promise<Map<string, Asset>> | undefined;

  function loadOnce(): Promise<Map<string, Asset>> {
    if (!assets) {
      const started = Date.now();
      assets = loadAssets().then(
        (loaded) => {
          log.info({ ms: Date.now() - started }, 'dashboard bundled');
          return loaded;
        },
        (error: unknown) => {
          assets = undefined;
          throw error;
        },
      );
    }
    return assets;
  }

  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      const { pathname } = url;
      if (pathname !== BASE_PATH && !pathname.startsWith(`${BASE_PATH}/`)) return;
      const text = (status: number, body: string, headers: Record<string, string> = {}) =>
        new fetchAPI.Response(body, {
          status,
          headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
        });
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        endResponse(text(405, 'Method not allowed', { allow: 'GET, HEAD' }));
        return;
      }
      let loaded: Map<string, Asset>;
      try {
        loaded = await loadOnce();
      } catch (error) {
        log.error({ detail: describeBuildError(error) }, 'dashboard build failed');
        endResponse(text(500, 'The dashboard could not be built; see the server log.'));
        return;
      }
      const asset = loaded.get(pathname);
      if (!asset) {
        endResponse(text(404, 'Not found'));
        return;
      }
      endResponse(
        new fetchAPI.Response(request.method === 'HEAD' ? null : asset.body, {
          headers: {
            'content-type': asset.contentType,
            // A restarted server may bring a new bundle: never run a stale one.
            'cache-control': 'no-cache',
            'content-security-policy': CONTENT_SECURITY_POLICY,
            'x-content-type-options': 'nosniff',
          },
        }),
      );
    },
  };
}
