import cluster from 'node:cluster';
import { buildApp } from './app.js';
import { runPrimary } from './cluster.js';
import { type Config, ConfigError, loadConfig } from './config.js';
import { EmbeddedPostgresError } from './db/embedded.js';
import { createLogger, type Logger } from './logger.js';

let config: Config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`Configuration error: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}

const rootLog = createLogger(config.logLevel, { pretty: process.stdout.isTTY });

/** One instance in this process: config → buildApp → start; SIGTERM → stop. */
async function serve(log: Logger, instance?: string): Promise<void> {
  const app = buildApp(config, { log, instance });

  let shuttingDown = false;
  async function shutdown(signal: string) {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, 'shutting down');
    // In-flight work is bounded by SHUTDOWN_GRACE_MS; this bounds what could still hang after it.
    setTimeout(() => {
      log.error('shutdown took too long: exiting anyway');
      process.exit(1);
    }, config.shutdownGraceMs + 10_000).unref();
    try {
      await app.stop();
      log.info('stopped');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
      process.exit(1);
    }
  }
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  try {
    const running = await app.start();
    log.info(`GraphQL API ready at ${running.graphqlUrl} (GraphiQL: open it in a browser)`);
  } catch (error) {
    reportStartFailure(log, error);
    process.exitCode = 1;
  }
}

function reportStartFailure(log: Logger, error: unknown): void {
  if (error instanceof EmbeddedPostgresError) {
    // A known cause with its fix: one line, no stack.
    process.stderr.write(`Embedded PostgreSQL could not start: ${error.message}\n`);
  } else {
    log.fatal({ err: error }, 'could not start');
  }
}

if (cluster.isWorker && cluster.worker) {
  const instance = `worker-${cluster.worker.id}`;
  await serve(rootLog.child({ instance }), instance);
} else if (config.webConcurrency > 1) {
  try {
    process.exit(await runPrimary(config, rootLog));
  } catch (error) {
    reportStartFailure(rootLog, error);
    process.exit(1);
  }
} else {
  await serve(rootLog);
}
