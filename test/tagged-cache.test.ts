import { describe, expect, it } from 'vitest';
import { TaggedCache } from '../src/cache/tagged-cache.js';

function cache(ttlMs = 60_000) {
  return new TaggedCache<number>({ name: 'test', ttlMs, maxEntries: 100 });
}

describe('TaggedCache', () => {
  it('counts hits and misses and shares one load between concurrent misses', async () => {
    const counts = cache();
    let loads = 0;
    const load = async () => {
      loads += 1;
      return 42;
    };
    const results = await Promise.all([
      counts.getOrLoad('a', ['consultants'], load),
      counts.getOrLoad('a', ['consultants'], load),
    ]);
    expect(results).toEqual([42, 42]);
    expect(await counts.getOrLoad('a', ['consultants'], load)).toBe(42);
    expect(loads).toBe(1);
    expect(counts.counters).toMatchObject({ misses: 1, hits: 2 });
  });

  it('drops exactly the entries tagged with a changed table', async () => {
    const counts = cache();
    await counts.getOrLoad('consultants', ['consultants'], async () => 1);
    await counts.getOrLoad('by-skill', ['consultants', 'consultant_skills'], async () => 2);
    await counts.getOrLoad('missions', ['missions'], async () => 3);
    expect(counts.invalidate(['consultant_skills'])).toBe(1);
    expect(counts.size).toBe(2);
    expect(counts.invalidate(['consultants'])).toBe(1);
    expect(counts.size).toBe(1);
    let reloaded = false;
    await counts.getOrLoad('missions', ['missions'], async () => {
      reloaded = true;
      return 0;
    });
    expect(reloaded).toBe(false);
  });

  it('does not keep a value whose load started before an invalidation', async () => {
    const counts = cache();
    let release: (value: number) => void = () => {};
    const pending = counts.getOrLoad(
      'a',
      ['missions'],
      () => new Promise<number>((resolve) => (release = resolve)),
    );
    counts.invalidate(['missions']);
    release(1);
    expect(await pending).toBe(1);
    expect(await counts.getOrLoad('a', ['missions'], async () => 2)).toBe(2);
  });

  it('expires entries after the TTL, the safety net for a missed invalidation', async () => {
    const counts = cache(30);
    await counts.getOrLoad('a', ['missions'], async () => 1);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await counts.getOrLoad('a', ['missions'], async () => 2)).toBe(2);
  });

  it('does not cache a failed load', async () => {
    const counts = cache();
    await expect(
      counts.getOrLoad('a', ['missions'], async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await counts.getOrLoad('a', ['missions'], async () => 3)).toBe(3);
  });
});
