/**
 * PostGraphile 5 on the bench database, the generated server the read-path
 * rows compare the API with: amber preset with simplified inflection,
 * production mode, no GraphiQL, on the loopback port given by PORT. Run by
 * bench/run.ts as a child process, like the API.
 */
import { createServer } from 'node:http';

// PostGraphile 5 targets Node 22; on Node 20 it only lacks Promise.withResolvers.
// The polyfill lives in this launcher process alone, never in the API's.
if (!('withResolvers' in Promise)) {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

const { postgraphile } = await import('postgraphile');
const { PostGraphileAmberPreset } = await import('postgraphile/presets/amber');
const { makePgService } = await import('postgraphile/adaptors/pg');
const { grafserv } = await import('postgraphile/grafserv/node');
const { PgSimplifyInflectionPreset } = await import('@graphile/simplify-inflection');

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error('DATABASE_URL is required');

const pgl = postgraphile({
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  pgServices: [makePgService({ connectionString, schemas: ['public'], poolConfig: { max: 10 } })],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
  grafast: { explain: false },
});
const serv = pgl.createServ(grafserv);
// createHandler (rather than addTo) so that /health can answer the bench's readiness probe.
const handle = serv.createHandler();
const server = createServer((request, response) => {
  if (request.url === '/health') response.end('ok');
  else handle(request, response);
});
const port = Number(process.env.PORT ?? 0);
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  void Promise.resolve(pgl.release()).finally(() => process.exit(0));
});
