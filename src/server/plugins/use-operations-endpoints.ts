import type { Plugin } from 'graphql-yoga';
import type { Registry } from 'prom-client';
import { bearerCredential, credentialDigest, sameDigest } from '../../auth/bearer.js';
import type { MetricsConfig } from '../../config.js';

export interface Readiness {
  ready: boolean;
  database: boolean;
  changeDetection: string;
}

export interface OperationsEndpointsOptions {
  registry: Registry;
  readiness: () => Promise<Readiness>;
  /** Who may scrape `/metrics` (METRICS_TOKEN, METRICS_PUBLIC). */
  metricsAccess: Pick<MetricsConfig, 'token' | 'public'>;
}

type MetricsVerdict = 'allowed' | 'disabled' | 'unauthorized';

/**
 * `/metrics` tells a stranger which operations run, how busy the pool is and
 * how many sockets are open: with a token only the bearer of it may read
 * it; without one it answers anyone only where it is public (the default
 * outside production), else it does not exist (404).
 */
function metricsGate(access: OperationsEndpointsOptions['metricsAccess']) {
  const expected = access.token ? credentialDigest(access.token.reveal()) : undefined;
  return (authorization: string | null): MetricsVerdict => {
    if (!expected) return access.public ? 'allowed' : 'disabled';
    const presented = authorization ? bearerCredential(authorization) : undefined;
    if (presented === undefined) return 'unauthorized';
    return sameDigest(expected, credentialDigest(presented)) ? 'allowed' : 'unauthorized';
  };
}

/**
 * `/ready` (database reachable and change detection running: 200 or 503)
 * and `/metrics` (Prometheus text format, see {@link metricsGate}), served by the same HTTP server as
 * GraphQL. `/health` (the process answers) is yoga's built-in check.
 */
export function useOperationsEndpoints(options: OperationsEndpointsOptions): Plugin {
  const mayReadMetrics = metricsGate(options.metricsAccess);
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
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
        case '/metrics': {
          const verdict = mayReadMetrics(request.headers.get('authorization'));
          if (verdict !== 'allowed') {
            endResponse(
              verdict === 'disabled'
                ? new fetchAPI.Response('Not found.\n', { status: 404 })
                : new fetchAPI.Response('A valid metrics token is required.\n', {
                    status: 401,
                    headers: { 'www-authenticate': 'Bearer' },
                  }),
            );
            return;
          }
          endResponse(
            new fetchAPI.Response(await options.registry.metrics(), {
              headers: { 'content-type': options.registry.contentType },
            }),
          );
          return;
        }
      }
    },
  };
}
