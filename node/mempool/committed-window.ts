/**
 * The duplicate window (SPEC C4): the transactions committed in the last W blocks that are not expired
 * yet, by hash. A transaction is in it from its block's commit until the chain reaches its
 * `validUntilBlock`; after that no copy of it can be valid again, so it leaves.
 *
 * Hashes live in typed arrays under an open-addressing table, not as strings in a Set: a chain taking
 * thousands of transactions a second holds millions of them for W blocks, and as strings they were that
 * many objects for every major garbage collection to visit. Expired entries are dropped when the table
 * is rebuilt (it grows or compacts once half its slots are used), so a lookup checks the entry's
 * `validUntilBlock` against the height it is asked at.
 */

const HASH_BYTES = 32;
const WORDS = HASH_BYTES / 4;
const MIN_CAPACITY = 1024;

/** Little-endian u32 of b[at..at+4] (hashes are views at any offset: no aligned typed-array reads). */
function word(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

export class CommittedWindow {
  /** WORDS u32 of each slot's hash. */
  private words: Uint32Array;
  /** Each slot's validUntilBlock; 0: an empty slot (a committed transaction's is at least 1). */
  private until: Float64Array;
  private mask: number;
  /** 32 - log2(slots): a slot is the top bits of a 32-bit product. */
  private shift: number;
  /** Occupied slots, expired entries included until the next rebuild. */
  private used = 0;
  /**
   * Multiplier of the slot hash: a slot is the high bits of the hash's first word times this odd number,
   * chosen at random per process, so that hashes ground to share some bits do not share slots (only a
   * whole first word in common does).
   */
  private readonly seed = (Math.floor(Math.random() * 0x7fffffff) * 2 + 1) >>> 0;

  constructor(capacity = MIN_CAPACITY) {
    const n = CommittedWindow.capacityFor(capacity);
    this.words = new Uint32Array(n * WORDS);
    this.until = new Float64Array(n);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
  }

  private static capacityFor(n: number): number {
    let c = MIN_CAPACITY;
    while (c < n) c *= 2;
    return c;
  }

  /** Occupied slots (live entries and expired ones not yet dropped). */
  get slotsUsed(): number {
    return this.used;
  }

  /** Whether `hash` was committed and is not expired at `height` (its validUntilBlock is above it). */
  has(hash: Uint8Array, height: bigint | number): boolean {
    if (hash.length !== HASH_BYTES) return false;
    const i = this.find(hash);
    return i >= 0 && this.until[i]! > Number(height);
  }

  /** Records `hash`, committed, valid until `validUntilBlock`; `height` (the chain's) lets a rebuild drop what has expired. */
  add(hash: Uint8Array, validUntilBlock: bigint | number, height: bigint | number): void {
    if (hash.length !== HASH_BYTES) throw new RangeError(`a transaction hash is ${HASH_BYTES} bytes, not ${hash.length}`);
    const until = Number(validUntilBlock);
    if (!(until >= 1)) throw new RangeError(`validUntilBlock must be at least 1, not ${String(validUntilBlock)}`);
    const found = this.find(hash);
    if (found >= 0) {
      this.until[found] = Math.max(this.until[found]!, until);
      return;
    }
    if ((this.used + 1) * 2 > this.until.length) this.rebuild(Number(height));
    this.insert(hash, until);
  }

  /** The slot holding `hash`, or -1. */
  private find(hash: Uint8Array): number {
    const w0 = word(hash, 0);
    const { words, until, mask } = this;
    for (let i = this.slotOf(w0); ; i = (i + 1) & mask) {
      if (until[i] === 0) return -1;
      if (words[i * WORDS] === w0 && this.rest(i, hash)) return i;
    }
  }

  private slotOf(w0: number): number {
    return Math.imul(w0, this.seed) >>> this.shift;
  }

  /** Whether words 1.. of slot i are hash's. */
  private rest(i: number, hash: Uint8Array): boolean {
    const at = i * WORDS;
    for (let k = 1; k < WORDS; k++) if (this.words[at + k] !== word(hash, 4 * k)) return false;
    return true;
  }

  private insert(hash: Uint8Array, until: number): void {
    let i = this.slotOf(word(hash, 0));
    while (this.until[i] !== 0) i = (i + 1) & this.mask;
    for (let k = 0; k < WORDS; k++) this.words[i * WORDS + k] = word(hash, 4 * k);
    this.until[i] = until;
    this.used++;
  }

  /** A table sized for the live entries (a quarter full after), expired ones left out. */
  private rebuild(height: number): void {
    const { words, until } = this;
    let live = 0;
    for (let i = 0; i < until.length; i++) if (until[i]! > height) live++;
    const n = CommittedWindow.capacityFor(4 * (live + 1));
    this.words = new Uint32Array(n * WORDS);
    this.until = new Float64Array(n);
    this.mask = n - 1;
    this.shift = 32 - Math.log2(n);
    this.used = 0;
    const hash = new Uint8Array(HASH_BYTES);
    const view = new DataView(hash.buffer);
    for (let i = 0; i < until.length; i++) {
      if (!(until[i]! > height)) continue;
      for (let k = 0; k < WORDS; k++) view.setUint32(4 * k, words[i * WORDS + k]!, true);
      this.insert(hash, until[i]!);
    }
  }
}
