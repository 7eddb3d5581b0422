import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';

export interface Readiness {
  ready: boolean;
  database: boolean;
  changeDetection: string;
}

export interface OperationsEndpointsOptions {
  registry: Registry;
  readiness: () => Promise<Readiness>;
}

/**
 * `/ready` (database reachable and change detection running: 200 or 503)
 * and `/metrics` (Prometheus text format), served by the same HTTP server as
 * GraphQL. `/health` (the process answers) is yoga's built-in check.
 */
export function useOperationsEndpoints(options: OperationsEndpointsOptions): Plugin {
  return {
    async onRequest({ url, endResponse, fetchAPI }) {
      const json = (status: number, body: unknown) =>
        new fetchAPI.Response(JSON.stringify(body), {
          status,
          headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
        });
      switch (url.pathname) {
        case '/ready': {
          const readiness = await options.readiness();
          endResponse(json(readiness.ready ? 200 : 503, readiness));
          return;
        }
        case '/metrics':
          endResponse(
            new fetchAPI.Response(await options.registry.metrics(), {
              headers: { 'content-type': options.registry.contentType },
            }),
          );
          return;
      }
    },
  };
}
