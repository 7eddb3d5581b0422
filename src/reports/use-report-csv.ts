import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Services } from '../context.js';
import { checkUtilizationParams, utilizationRate } from '../schema/reports/utilization.js';
import { utilizationCsv } from './csv.js';

export const UTILIZATION_CSV_PATH = '/reports/utilization.csv';

/**
 * `GET /reports/utilization.csv?from=&to=&groupBy=`: the utilizationReport
 * query as a CSV download, with the same authentication (a bearer token,
 * unless anonymous reads are on) and the same report cache. `X-Cache` says
 * HIT or MISS.
 */
export function useReportCsv(services: Services): Plugin {
  return {
    async onRequest({ request, url, endResponse, fetchAPI }) {
      if (url.pathname !== UTILIZATION_CSV_PATH) return;
      const text = (status: number, body: string, headers: Record<string, string> = {}) =>
        endResponse(
          new fetchAPI.Response(`${body}\n`, {
            status,
            headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
          }),
        );
      if (request.method !== 'GET') {
        text(405, 'Method not allowed: use GET.', { allow: 'GET' });
        return;
      }
      const authentication = await services.authenticator.authenticate(
        request.headers.get('authorization'),
      );
      if (authentication.kind === 'invalid') {
        text(401, `Invalid credentials: ${authentication.reason}`, {
          'www-authenticate': 'Bearer',
        });
        return;
      }
      if (authentication.kind === 'anonymous' && !services.allowAnonymousReads) {
        text(401, 'Authentication required.', { 'www-authenticate': 'Bearer' });
        return;
      }
      let params: ReturnType<typeof checkUtilizationParams>;
      try {
        const query = url.searchParams;
        params = checkUtilizationParams(query.get('from'), query.get('to'), query.get('groupBy'));
      } catch (error) {
        if (error instanceof GraphQLError) {
          text(400, error.message);
          return;
        }
        throw error;
      }
      try {
        const forceRefresh = url.searchParams.get('forceRefresh') === 'true';
        const report = await services.reports.utilization(params, { forceRefresh });
        endResponse(
          new fetchAPI.Response(utilizationCsv(report.rows, utilizationRate), {
            headers: {
              'content-type': 'text/csv; charset=utf-8',
              'content-disposition': `attachment; filename="utilization-${params.groupBy.toLowerCase()}-${params.from}-${params.to}.csv"`,
              'x-cache': report.cacheHit ? 'HIT' : 'MISS',
              'last-modified': report.computedAt.toUTCString(),
            },
          }),
        );
      } catch (error) {
        services.log.error({ err: error, path: UTILIZATION_CSV_PATH }, 'unexpected error');
        text(500, 'Unexpected error.');
      }
    },
  };
}
