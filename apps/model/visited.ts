// The set of states seen, as 64-bit hashes of their canonical keys in an open-addressing table
// (12 bytes a slot, half full at most): tens of millions of states fit in a few hundred MB.

/** Two independent 32-bit hashes of `key` (multiply-xorshift over its UTF-16 code units). */
export function hash64(key: string): [number, number] {
  let h1 = 0x9e3779b1 ^ key.length;
  let h2 = 0x85ebca6b ^ key.length;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 0x85ebca6b);
  h1 = Math.imul(h1 ^ (h1 >>> 13), 0xc2b2ae35);
  h1 ^= h1 >>> 16;
  h2 = Math.imul(h2 ^ (h2 >>> 16), 0x7feb352d);
  h2 = Math.imul(h2 ^ (h2 >>> 15), 0x846ca68b);
  h2 ^= h2 >>> 16;
  return [h1 >>> 0, h2 >>> 0];
}

/**
 * A set of 64-bit hashes. Two different states with the same 64-bit hash would count as one
 * (the second unexplored): with n states the chance of any such collision is about n^2 / 2^65,
 * under 1e-5 for 10 million states.
 */
export class VisitedSet {
  private hi: Uint32Array;
  private lo: Uint32Array;
  private used: Uint8Array;
  private mask: number;
  size = 0;

  constructor(capacityLog2 = 20) {
    const cap = 1 << capacityLog2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /** Adds the key's hash; true if it was not there. */
  add(key: string): boolean {
    const [h, l] = hash64(key);
    if (this.insert(h, l)) {
      this.size++;
      if (this.size * 2 > this.mask) this.grow();
      return true;
    }
    return false;
  }

  /** Bytes held by the table. */
  get bytes(): number {
    return this.used.length * 9;
  }

  private insert(h: number, l: number): boolean {
    let i = (l ^ Math.imul(h, 0x9e3779b1)) & this.mask;
    while (this.used[i]) {
      if (this.hi[i] === h && this.lo[i] === l) return false;
      i = (i + 1) & this.mask;
    }
    this.used[i] = 1;
    this.hi[i] = h;
    this.lo[i] = l;
    return true;
  }

  private grow(): void {
    const { hi, lo, used } = this;
    const cap = used.length * 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    for (let i = 0; i < used.length; i++) if (used[i]) this.insert(hi[i]!, lo[i]!);
  }
}
