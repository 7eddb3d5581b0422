import type { Caches } from './cache/index.js';
import type { StatsPublisher } from './changes/stats-publisher.js';
import type { Database } from './db/client.js';
import type { DashboardStatsSnapshot } from './db/queries/stats.js';
import { createLoaders, type Loaders } from './loaders/index.js';
import type { Logger } from './logger.js';

/** Long-lived services the composition root hands to every request. */
export interface Services {
  db: Database;
  log: Logger;
  caches: Caches;
  stats: StatsPublisher<DashboardStatsSnapshot>;
}

/** What every resolver receives, on HTTP and WebSocket alike. */
export interface Context {
  services: Services;
  /** Replaced for each event of a subscription (see statsChanged). */
  loaders: Loaders;
}

/**
 * The one context factory. graphql-ws reaches it through yoga's
 * `getEnveloped`, so both transports share it.
 */
export function createContext(services: Services): Context {
  return { services, loaders: createLoaders(services.db) };
}
