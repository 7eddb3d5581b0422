import { LRUCache } from 'lru-cache';

export interface CacheCounters {
  hits: number;
  misses: number;
  invalidations: number;
}

export interface TaggedCacheOptions {
  name: string;
  ttlMs: number;
  maxEntries: number;
}

interface Entry<V> {
  value: V;
  tags: readonly string[];
}

/**
 * A TTL + LRU cache (lru-cache) whose entries carry the tags (table names)
 * they were computed from. A change event drops every entry tagged with a
 * changed table: that is the freshness mechanism; the TTL only bounds how
 * long a missed invalidation could last.
 *
 * Concurrent misses for one key share a single load, so a burst of requests
 * right after an invalidation issues one query, not one per request.
 */
export class TaggedCache<V extends object | number> {
  readonly name: string;
  readonly counters: CacheCounters = { hits: 0, misses: 0, invalidations: 0 };
  private readonly entries: LRUCache<string, Entry<V>>;
  private readonly keysByTag = new Map<string, Set<string>>();
  private readonly inFlight = new Map<string, { promise: Promise<V>; generation: number }>();
  // Bumped by every invalidation: a load that started before it must not be cached after it.
  private generation = 0;

  constructor(options: TaggedCacheOptions) {
    this.name = options.name;
    this.entries = new LRUCache<string, Entry<V>>({
      max: options.maxEntries,
      ttl: options.ttlMs,
      dispose: (entry, key) => this.forgetTags(key, entry.tags),
    });
  }

  get size(): number {
    return this.entries.size;
  }

  async getOrLoad(key: string, tags: readonly string[], load: () => Promise<V>): Promise<V> {
    const cached = this.entries.get(key);
    if (cached) {
      this.counters.hits += 1;
      return cached.value;
    }
    const pending = this.inFlight.get(key);
    if (pending && pending.generation === this.generation) {
      this.counters.hits += 1;
      return pending.promise;
    }
    this.counters.misses += 1;
    const generation = this.generation;
    const promise = load().then(
      (value) => {
        if (generation === this.generation) this.set(key, tags, value);
        return value;
      },
      (error: unknown) => {
        throw error;
      },
    );
    const settle = () => {
      if (this.inFlight.get(key)?.promise === promise) this.inFlight.delete(key);
    };
    promise.then(settle, settle);
    this.inFlight.set(key, { promise, generation });
    return promise;
  }

  set(key: string, tags: readonly string[], value: V): void {
    this.entries.set(key, { value, tags });
    for (const tag of tags) {
      let keys = this.keysByTag.get(tag);
      if (!keys) {
        keys = new Set();
        this.keysByTag.set(tag, keys);
      }
      keys.add(key);
    }
  }

  /** Drops every entry that depends on any of `tags`. */
  invalidate(tags: Iterable<string>): number {
    this.generation += 1;
    let dropped = 0;
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) {
        if (this.entries.delete(key)) dropped += 1;
      }
    }
    if (dropped > 0) this.counters.invalidations += dropped;
    return dropped;
  }

  clear(): void {
    this.generation += 1;
    this.counters.invalidations += this.entries.size;
    this.entries.clear();
    this.keysByTag.clear();
  }

  private forgetTags(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
  }
}
