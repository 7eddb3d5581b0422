import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface MutationRateLimiter {
  /** Spends one mutation of `actor`'s allowance for the current window. */
  take(actor: string): Promise<RateDecision>;
  readonly limit: number;
  readonly windowSeconds: number;
}

/**
 * Mutations per actor per fixed window (rate-limiter-flexible, in process
 * memory: each instance counts its own, so N instances allow up to N times
 * the limit). Counted per actor, not per address, because writes are
 * authenticated and several admins may share a proxy. `limit` 0 allows all.
 */
export function createMutationRateLimiter(options: {
  limit: number;
  windowSeconds: number;
}): MutationRateLimiter {
  const limiter =
    options.limit > 0
      ? new RateLimiterMemory({ points: options.limit, duration: options.windowSeconds })
      : null;
  return {
    limit: options.limit,
    windowSeconds: options.windowSeconds,
    async take(actor) {
      if (!limiter) return { allowed: true };
      try {
        await limiter.consume(actor);
        return { allowed: true };
      } catch (rejection) {
        // The memory store only rejects with the limiter's verdict; anything else is a bug.
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return { allowed: false, retryAfterSeconds: Math.ceil(rejection.msBeforeNext / 1000) };
      }
    },
  };
}
