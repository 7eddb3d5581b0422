import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';

export type RateDecision =
  | { allowed: true }
  | {
      allowed: false;
      retryAfterSeconds: number;
      /** Which allowance ran out. */
      exhausted: 'actor' | 'address';
      limit: number;
    };

export interface MutationRateLimiter {
  /**
   * Spends one mutation attempt of `actor`'s allowance and one of
   * `address`'s for the current window. Every attempt counts, refused ones
   * included: a refusal costs a check and an audit write too.
   */
  take(actor: string, address: string): Promise<RateDecision>;
  readonly limit: number;
  readonly limitPerAddress: number;
  readonly windowSeconds: number;
}

/**
 * Mutation attempts per actor and per client address, in fixed windows
 * (rate-limiter-flexible, in process memory: each instance counts its own,
 * so N instances allow up to N times the limits). Per actor, because
 * writes are authenticated and several admins may share a proxy; per
 * address too, because refused attempts come from callers without a valid
 * identity (anonymous, wrong role) who would otherwise all share one actor
 * or pick new ones. A limit of 0 turns that count off.
 */
export function createMutationRateLimiter(options: {
  limit: number;
  limitPerAddress: number;
  windowSeconds: number;
}): MutationRateLimiter {
  const limiterOf = (points: number) =>
    points > 0 ? new RateLimiterMemory({ points, duration: options.windowSeconds }) : null;
  const byActor = limiterOf(options.limit);
  const byAddress = limiterOf(options.limitPerAddress);

  async function spend(limiter: RateLimiterMemory | null, key: string): Promise<number | null> {
    if (!limiter) return null;
    try {
      await limiter.consume(key);
      return null;
    } catch (rejection) {
      // The memory store only rejects with the limiter's verdict; anything else is a bug.
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
    }
  }

  return {
    limit: options.limit,
    limitPerAddress: options.limitPerAddress,
    windowSeconds: options.windowSeconds,
    async take(actor, address) {
      // Both are spent whichever refuses, so neither can be drained through the other.
      const [actorWait, addressWait] = await Promise.all([
        spend(byActor, `actor:${actor}`),
        spend(byAddress, `address:${address}`),
      ]);
      if (actorWait !== null) {
        return {
          allowed: false,
          retryAfterSeconds: Math.max(actorWait, addressWait ?? 0),
          exhausted: 'actor',
          limit: options.limit,
        };
      }
      if (addressWait !== null) {
        return {
          allowed: false,
          retryAfterSeconds: addressWait,
          exhausted: 'address',
          limit: options.limitPerAddress,
        };
      }
      return { allowed: true };
    },
  };
}
