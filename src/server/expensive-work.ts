/**
 * Who may start one more expensive operation now. Two caps: per client (an
 * actor, or an address for anonymous callers), so one client cannot take the
 * whole server; and per instance, so many clients together cannot either.
 * Counted in this process only: each instance protects its own CPU and memory.
 */
export interface ExpensiveWorkBudget {
  /**
   * Takes a slot for `client`, or says which cap is full. The slot must be
   * given back with `release()` once the operation has finished.
   */
  tryAcquire(
    client: string,
  ): { granted: true; release: () => void } | { granted: false; full: 'client' | 'instance' };
  /** Expensive operations running now. */
  readonly running: number;
}

export interface ExpensiveWorkBudgetOptions {
  perClient: number;
  perInstance: number;
}

/** Builds an {@link ExpensiveWorkBudget}; 0 for a cap means no cap. */
export function createExpensiveWorkBudget(
  options: ExpensiveWorkBudgetOptions,
): ExpensiveWorkBudget {
  const byClient = new Map<string, number>();
  let running = 0;
  return {
    tryAcquire(client) {
      const mine = byClient.get(client) ?? 0;
      if (options.perClient > 0 && mine >= options.perClient)
        return { granted: false, full: 'client' };
      if (options.perInstance > 0 && running >= options.perInstance) {
        return { granted: false, full: 'instance' };
      }
      byClient.set(client, mine + 1);
      running += 1;
      let released = false;
      return {
        granted: true,
        release() {
          if (released) return;
          released = true;
          running -= 1;
          const left = (byClient.get(client) ?? 1) - 1;
          // Only clients with something running stay in the map: it cannot grow without bound.
          if (left > 0) byClient.set(client, left);
          else byClient.delete(client);
        },
      };
    },
    get running() {
      return running;
    },
  };
}
