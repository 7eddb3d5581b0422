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
