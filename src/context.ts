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
  /** Mutations per actor per window. */
  mutationRate: MutationRateLimiter;
}

/** What every resolver receives, on HTTP and WebSocket alike. */
export interface Context {
  services: Services;
  /** Replaced for each event of a subscription (see statsChanged). */
  loaders: Loaders;
  /** Null for an anonymous caller. */
  viewer: Viewer | null;
}

/**
 * What the transports hand the context factory: HTTP passes the request
 * (its `Authorization` header is checked here); graphql-ws checked the
 * token of `connectionParams` once, in `onConnect`, and passes the outcome.
 */
export interface InitialContext {
  request?: { headers: { get(name: string): string | null } };
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
  if (authentication.kind === 'invalid') {
    throw unauthenticated(`Invalid credentials: ${authentication.reason}`);
  }
  return {
    services,
    loaders: createLoaders(services.db),
    viewer: authentication.kind === 'authenticated' ? authentication.viewer : null,
  };
}
