import cluster, { type Worker } from 'node:cluster';
import { EMBEDDED_DATABASE_NAME } from './app.js';
import { resolveJwtSecret } from './auth/dev-secret.js';
import { type Config, redactUrl } from './config.js';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './db/embedded.js';
import type { Logger } from './logger.js';

/** How long a worker that died after starting waits before it is replaced. */
const RESTART_DELAY_MS = 1_000;

/**
 * The primary process of `WEB_CONCURRENCY=N`: forks N workers that share the
 * listening port (node:cluster hands each new connection to one of them),
 * each a full instance with its own pool, listener and WebSocket fan-out, as
 * separate machines would run it on one database.
 *
 * What must happen once happens here or in the first worker: the embedded
 * database (when no DATABASE_URL is set) and the demo JWT secret are owned by
 * the primary, and the first worker migrates and seeds before the others
 * start. Settings whose defaults depend on "embedded or not" are resolved here
 * and passed on, so workers behave as one server would. SIGTERM or SIGINT stop
 * every worker gracefully, then the embedded database. A worker that dies
 * after starting is replaced; one that fails to start stops the whole server.
 *
 * Resolves with the exit code once everything has stopped.
 */
export async function runPrimary(config: Config, log: Logger): Promise<number> {
  let embedded: EmbeddedPostgres | undefined;
  let databaseUrl = config.database.url;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.database.embedded.dataDir,
      port: config.database.embedded.port,
      database: EMBEDDED_DATABASE_NAME,
      log: (message) => log.debug({ component: 'embedded-postgres' }, message),
    });
    databaseUrl = embedded.url;
    log.info({ url: redactUrl(databaseUrl) }, 'embedded PostgreSQL started for the workers');
  }
  const jwtSecret = await resolveJwtSecret(config);
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    DASHBOARD: String(config.http.dashboard),
    ALLOW_ANONYMOUS_READS: String(config.auth.allowAnonymousReads),
    SEED_ON_FIRST_START: String(config.database.seedOnFirstStart),
    ...(jwtSecret ? { JWT_SECRET: jwtSecret.reveal() } : {}),
  };

  const workers = new Set<Worker>();
  let stopping = false;
  let exitCode = 0;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const fork = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork(env);
      workers.add(worker);
      let listening = false;
      worker.once('listening', () => {
        listening = true;
        resolve(worker);
      });
      worker.once('exit', (code, signal) => {
        workers.delete(worker);
        if (stopping) {
          if (workers.size === 0) finish(exitCode);
          return;
        }
        if (!listening) {
          reject(new Error(`worker ${worker.id} exited at start (code ${code ?? signal})`));
          return;
        }
        log.error({ worker: worker.id, code, signal }, 'worker died; starting another');
        setTimeout(() => {
          if (!stopping) fork().catch((error: unknown) => stop(1, error));
        }, RESTART_DELAY_MS);
      });
    });

  function stop(code: number, error?: unknown): void {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    if (error) log.error({ err: error }, 'stopping every worker');
    // Each worker drains its own requests and sockets within SHUTDOWN_GRACE_MS.
    for (const worker of workers) worker.process.kill('SIGTERM');
    const cut = setTimeout(() => {
      for (const worker of workers) worker.process.kill('SIGKILL');
    }, config.shutdownGraceMs + 10_000);
    void finished.then(() => clearTimeout(cut));
    if (workers.size === 0) finish(exitCode);
  }

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      log.info({ signal }, 'shutting down every worker');
      stop(0);
    });
  }

  try {
    // One first: it migrates and seeds; the others then find the database ready.
    await fork();
    await Promise.all(Array.from({ length: config.webConcurrency - 1 }, fork));
    log.info({ workers: config.webConcurrency }, 'every worker is serving');
  } catch (error) {
    stop(1, error);
  }
  const code = await finished;
  await embedded?.stop();
  return code;
}
