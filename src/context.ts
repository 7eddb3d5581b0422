import { getOperationAST, parse } from 'graphql';
import type { RefusalAudit } from './audit/refusal-audit.js';
import type { Authenticator } from './auth/authenticator.js';
import type { MutationRateLimiter } from './auth/mutation-rate-limit.js';
import type { Viewer } from './auth/viewer.js';
import type { AuthenticatedExtra } from './auth/ws-auth.js';
import type { Caches } from './cache/index.js';
import type { Database } from './db/client.js';
import { createLoaders, type Loaders } from './loaders/index.js';
import type { Logger } from './logger.js';
import type { ReportService } from './reports/report-service.js';
import { unauthenticated } from './schema/errors.js';
import type { StatsPublisher } from './stats/publisher.js';
import type { DashboardStatsSnapshot } from './stats/snapshot.js';
import type { TaskRunner } from './tasks/task-runner.js';

/** Long-lived services the composition root hands to every request. */
export interface Services {
  db: Database;
  log: Logger;
  caches: Caches;
  stats: StatsPublisher<DashboardStatsSnapshot>;
  authenticator: Authenticator;
  tasks: TaskRunner;
  reports: ReportService;
  /** Queries and subscriptions without a token are allowed. */
  allowAnonymousReads: boolean;
  /** Mutation attempts per actor and per client address per window. */
  mutationRate: MutationRateLimiter;
  /** Refused mutation attempts, one counted row per actor, address, operation and window. */
  refusals: RefusalAudit;
}

/** What every resolver receives, on HTTP and WebSocket alike. */
export interface Context {
  services: Services;
  /** Replaced for each event of a subscription (see statsChanged). */
  loaders: Loaders;
  /** Null for an anonymous caller. */
  viewer: Viewer | null;
  /** The TCP peer's address (a reverse proxy's, behind one): rate limits and refusal rows use it. */
  clientAddress: string;
  /**
   * Why the credential sent with a mutation was refused. Such a request is
   * not failed here like any other: each of its mutations is counted and
   * audited, then refused with UNAUTHENTICATED (see adminOnly).
   */
  credentialRefusal?: string;
}

/**
 * What the transports hand the context factory: HTTP passes the request
 * (its `Authorization` header is checked here); graphql-ws checked the
 * token of `connectionParams` once, in `onConnect`, and passes the outcome.
 */
export interface InitialContext {
  request?: { headers: { get(name: string): string | null } };
  /** The node request (HTTP, and the upgrade request of a WebSocket). */
  req?: { socket?: { remoteAddress?: string } };
  /** The GraphQL parameters of the request. */
  params?: { query?: string; operationName?: string | null };
  /** graphql-ws' connection `extra`, where its `onConnect` left the outcome. */
  extra?: AuthenticatedExtra;
}

/**
 * The one context factory. graphql-ws reaches it through yoga's
 * `getEnveloped`, so both transports share it. A credential that is sent
 * but invalid fails the whole request (UNAUTHENTICATED) rather than
 * silently falling back to anonymous access.
 */
export async function createContext(
  services: Services,
  initial: InitialContext = {},
): Promise<Context> {
  const authentication =
    initial.extra?.authentication ??
    (await services.authenticator.authenticate(initial.request?.headers.get('authorization')));
  const base = {
    services,
    loaders: createLoaders(services.db, services.caches),
    clientAddress: initial.req?.socket?.remoteAddress ?? 'unknown',
  };
  if (authentication.kind === 'invalid') {
    if (isMutation(initial.params)) {
      return { ...base, viewer: null, credentialRefusal: authentication.reason };
    }
    throw unauthenticated(`Invalid credentials: ${authentication.reason}`);
  }
  return {
    ...base,
    viewer: authentication.kind === 'authenticated' ? authentication.viewer : null,
  };
}

/** Whether the request runs a mutation; a document that does not parse is not one (it fails later). */
function isMutation(params: InitialContext['params']): boolean {
  if (!params?.query) return false;
  try {
    // Bounded like the API's own parse: this runs before the token limit does.
    const document = parse(params.query, { maxTokens: 10_000 });
    return getOperationAST(document, params.operationName ?? undefined)?.operation === 'mutation';
  } catch {
    return false;
  }
}
