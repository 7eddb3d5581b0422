import type { SqlStatementCounter } from '../../src/db/client.js';

export interface StatementCount<T> {
  /** How many statements the pool sent while `fn` ran. */
  count: number;
  /** Their texts, in order, for failure messages. */
  statements: string[];
  result: T;
}

/**
 * Runs `fn` and reports the statements the counted pool sent meanwhile.
 * Only meaningful while nothing else uses the same server (tests in a file run
 * one at a time).
 */
export async function countStatements<T>(
  counter: SqlStatementCounter,
  fn: () => Promise<T>,
): Promise<StatementCount<T>> {
  const statements: string[] = [];
  const before = counter.total;
  const unobserve = counter.observe((text) => statements.push(text));
  try {
    const result = await fn();
    return { count: counter.total - before, statements, result };
  } finally {
    unobserve();
  }
}

/** Numbered statement texts, one per line, shortened: for `expect(…, message)`. */
export function describeStatements(statements: readonly string[]): string {
  return statements
    .map((text, index) => `${index + 1}. ${text.replace(/\s+/g, ' ').slice(0, 300)}`)
    .join('\n');
}

/**
 * {@link countStatements} for a request that must send at most `atMost`
 * statements, robust to the server's own background work (a stats fold, the
 * echo of a wake-up) landing in the window, as it does on a busy machine
 * however long the quiet period waited for before: the request runs again,
 * once the server is idle, while a run sent more (at most `attempts` runs).
 * A request that sends statements itself sends them every time, so it still
 * fails; returns the run with the fewest.
 */
export async function fewestStatements<T>(
  server: { sqlCounter: SqlStatementCounter; waitForIdle(): Promise<void> },
  fn: () => Promise<T>,
  atMost = 0,
  attempts = 3,
): Promise<StatementCount<T>> {
  let fewest = await countStatements(server.sqlCounter, fn);
  for (let attempt = 1; attempt < attempts && fewest.count > atMost; attempt += 1) {
    await server.waitForIdle();
    const run = await countStatements(server.sqlCounter, fn);
    if (run.count < fewest.count) fewest = run;
  }
  return fewest;
}
