import { afterAll, afterEach } from 'vitest';

/**
 * A disposal list in the style of graphql-ws' tests/utils/tservers.ts:
 * whatever a test starts registers how to stop it, and a hook runs the list,
 * last in first out, even when the test failed half-way.
 */
export type Dispose = () => Promise<void> | void;

export interface Disposer {
  /** Registers a cleanup; returns it so callers can also run it early. */
  add(dispose: Dispose): Dispose;
  /** Runs and forgets every registered cleanup, newest first; reports every failure. */
  run(): Promise<void>;
  readonly size: number;
}

export function createDisposer(): Disposer {
  const pending: Dispose[] = [];
  return {
    add(dispose) {
      let done = false;
      const once: Dispose = async () => {
        if (done) return;
        done = true;
        await dispose();
      };
      pending.push(once);
      return once;
    },
    async run() {
      const errors: unknown[] = [];
      for (let dispose = pending.pop(); dispose; dispose = pending.pop()) {
        try {
          await dispose();
        } catch (error) {
          errors.push(error);
        }
      }
      if (errors.length === 1) throw errors[0];
      if (errors.length > 1) throw new AggregateError(errors, 'several cleanups failed');
    },
    get size() {
      return pending.length;
    },
  };
}

/** A disposer run after each test of the calling file. */
export function disposeAfterEach(): Disposer {
  const disposer = createDisposer();
  afterEach(() => disposer.run());
  return disposer;
}

/** A disposer run once after all tests of the calling file (or describe block). */
export function disposeAfterAll(): Disposer {
  const disposer = createDisposer();
  afterAll(() => disposer.run());
  return disposer;
}

/**
 * Polls `condition` until it returns (or resolves to) something truthy or
 * stops throwing, and returns that; fails with the last error after
 * `timeoutMs`. Use it instead of fixed sleeps.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  timeoutMs = 5_000,
  intervalMs = 10,
): Promise<Exclude<T, false | null | undefined | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as Exclude<T, false | null | undefined | 0 | ''>;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      if (lastError) throw lastError;
      throw new Error(`waitFor: condition still false after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
