/**
 * A small seeded PRNG for the row generators. Faker's own generator is far too
 * slow to call tens of millions of times, so faker only fills the name and
 * client pools once and this picks from them.
 *
 * The algorithm is sfc32 (Chris Doty-Humphrey's Small Fast Counting
 * generator): 128 bits of state, passes PractRand, and runs on 32-bit integer
 * operations that V8 keeps unboxed.
 */

/** Murmur3's finaliser: spreads every input bit over the whole word. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hashString(text: string): number {
  // FNV-1a: stream names are short ASCII labels, nothing cryptographic needed.
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /**
   * @param seed any safe integer; both halves of a large one count.
   * @param stream a label giving each table its own independent sequence, so
   *   changing how many documents are generated does not reshuffle missions.
   */
  constructor(seed: number, stream: string) {
    const low = seed >>> 0;
    const high = Math.floor(seed / 2 ** 32) >>> 0;
    const label = hashString(stream);
    this.a = mix32(low ^ label);
    this.b = mix32(high ^ 0x9e3779b9 ^ this.a);
    this.c = mix32(label ^ 0x7f4a7c15 ^ this.b);
    this.d = 1;
    // The first outputs of sfc32 still echo the seed; the reference
    // implementation discards a dozen.
    for (let i = 0; i < 12; i += 1) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4_294_967_296;
  }

  /** Uniform integer in [min, max], both ends included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  /** Uniform index into a list of `length` items. */
  index(length: number): number {
    return Math.floor(this.next() * length);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.index(items.length)] as T;
  }

  /** Index drawn with the weights summarised by {@link cumulativeWeights}. */
  weighted(cumulative: Float64Array): number {
    const total = cumulative[cumulative.length - 1] ?? 0;
    const target = this.next() * total;
    let index = 0;
    while (index < cumulative.length - 1 && (cumulative[index] ?? 0) <= target) index += 1;
    return index;
  }
}

/** Running sums of `weights`, the form {@link Random.weighted} draws from. */
export function cumulativeWeights(weights: readonly number[]): Float64Array {
  const sums = new Float64Array(weights.length);
  let total = 0;
  weights.forEach((weight, index) => {
    total += weight;
    sums[index] = total;
  });
  return sums;
}
