/**
 * SHA-256 of many small inputs in one call: `HashBatch`. node:crypto's hash() costs ~0.6 µs a call
 * here for a 65-byte input, nearly all of it per-call overhead, and a block hashes ~12 such inputs a
 * transaction (state tree nodes, Merkle leaves and nodes). The native addon (native/, built by
 * `npm install`) hashes a whole batch with OpenSSL's SHA-256 in ~0.11 µs an input. `LinkedRecords`
 * hashes a tree's new nodes in one call, each digest written into its parent's preimage. Where the addon is
 * not built (or BROP_NATIVE=0), the same batches are hashed through node:crypto: same digests, slower.
 */
import { createRequire } from 'node:module';
import { hash } from 'node:crypto';

interface NativeHashing {
  sha256Many(data: Uint8Array, ends: Uint32Array, out: Uint8Array): void;
  sha256Linked(records: Uint8Array, links: Int32Array, out: Uint8Array): void;
}

const ABC_DIGEST = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

function loadNative(): NativeHashing | undefined {
  if (process.env.BROP_NATIVE === '0') return undefined;
  try {
    const addon = createRequire(import.meta.url)('./native/build/Release/brop_native.node') as NativeHashing;
    // Trusted only once it gives the known digest of "abc".
    const out = new Uint8Array(32);
    addon.sha256Many(new TextEncoder().encode('abc'), Uint32Array.of(3), out);
    if (Buffer.from(out).toString('hex') !== ABC_DIGEST || typeof addon.sha256Linked !== 'function') return undefined;
    return addon;
  } catch {
    return undefined;
  }
}

const native = loadNative();

/** Whether batches are hashed by the native addon (false: through node:crypto, one call an input). */
export const nativeHashing = native !== undefined;

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;
const latin1Write = (Buffer.prototype as unknown as { latin1Write: (this: Uint8Array, s: string, offset: number, length: number) => number }).latin1Write;

/** A batch above this many bytes is not kept for reuse: one huge block should not pin its memory. */
const KEEP_BYTES = 4 << 20;
const INITIAL_BYTES = 64 << 10;
const INITIAL_INPUTS = 1024;

/**
 * Inputs written back to back into `data`, hashed together by `digest`. Use: `add(n)` for each input
 * (returns where to write its n bytes in `data`), `digest()`, read digest i with `id(i)` or from the
 * returned bytes at 32·i, then `reset()`. One owner at a time: a batch is not shared across an await.
 */
export class HashBatch {
  /** The inputs, back to back; write each input's bytes where `add` says. */
  data: Buffer = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private ends = new Uint32Array(INITIAL_INPUTS);
  private out: Buffer = Buffer.allocUnsafeSlow(32 * INITIAL_INPUTS);
  private size = 0;
  /** Inputs added since the last reset. */
  count = 0;
  private readonly native: NativeHashing | undefined;

  /** `useNative: false` hashes through node:crypto even where the addon is loaded (tests compare the two). */
  constructor(options: { useNative?: boolean } = {}) {
    this.native = options.useNative === false ? undefined : native;
  }

  /** Room for an input of `n` bytes at the returned offset of `data` (every byte must be written). */
  add(n: number): number {
    if (this.size + n > this.data.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.data.length, this.size + n));
      grown.set(this.data.subarray(0, this.size));
      this.data = grown;
    }
    if (this.count === this.ends.length) {
      const grown = new Uint32Array(2 * this.ends.length);
      grown.set(this.ends);
      this.ends = grown;
    }
    const at = this.size;
    this.size += n;
    this.ends[this.count++] = this.size;
    return at;
  }

  /** Hashes the inputs added since the last reset: digest i is at [32·i, 32·i + 32) of the result. */
  digest(): Buffer {
    if (this.out.length < 32 * this.count) this.out = Buffer.allocUnsafeSlow(32 * Math.max(this.count, 2 * this.out.length / 32));
    if (this.native !== undefined) {
      this.native.sha256Many(this.data, this.ends.subarray(0, this.count), this.out);
    } else {
      let start = 0;
      for (let i = 0; i < this.count; i++) {
        const end = this.ends[i]!;
        latin1Write.call(this.out, hash('sha256', this.data.subarray(start, end), 'binary'), 32 * i, 32);
        start = end;
      }
    }
    return this.out;
  }

  /** Digest i of the last `digest()`, as a latin1 string (the state tree's ids). */
  id(i: number): string {
    return latin1Slice.call(this.out, 32 * i, 32 * i + 32);
  }

  /** Empties the batch for its next use. */
  reset(): void {
    this.count = 0;
    this.size = 0;
    if (this.data.length > KEEP_BYTES) this.data = Buffer.allocUnsafeSlow(INITIAL_BYTES);
    if (this.out.length > KEEP_BYTES) this.out = Buffer.allocUnsafeSlow(32 * INITIAL_INPUTS);
  }
}

/**
 * Fixed-size records hashed in order, each digest also written into a later record where `link` says:
 * an update's new tree nodes (children before parents) hashed in one call, each node's hash landing
 * in its parent's preimage before the parent is hashed. Use: `add()` per record (write its bytes at
 * the returned offset of `records`), `link(i, offset)` where record i's digest belongs, `digest()`,
 * then `reset()`.
 */
export class LinkedRecords {
  readonly size: number;
  records: Buffer;
  private links = new Int32Array(INITIAL_INPUTS);
  private out: Buffer = Buffer.allocUnsafeSlow(32 * INITIAL_INPUTS);
  /** Records added since the last reset. */
  count = 0;
  private readonly native: NativeHashing | undefined;

  constructor(size: number, options: { useNative?: boolean } = {}) {
    this.size = size;
    this.records = Buffer.allocUnsafeSlow(size * INITIAL_INPUTS);
    this.native = options.useNative === false ? undefined : native;
  }

  /** A new record, at the returned offset of `records` (every byte must be written, or linked). */
  add(): number {
    if (this.count === this.links.length) {
      const links = new Int32Array(2 * this.links.length);
      links.set(this.links);
      this.links = links;
      const records = Buffer.allocUnsafeSlow(2 * this.records.length);
      this.records.copy(records, 0, 0, this.count * this.size);
      this.records = records;
    }
    this.links[this.count] = -1;
    return this.count++ * this.size;
  }

  /** Record i's digest also goes to `offset` of `records`: 32 bytes inside a later record. */
  link(i: number, offset: number): void {
    if (!(i >= 0 && i < this.count && offset >= (i + 1) * this.size && offset + 32 <= this.count * this.size)) {
      throw new RangeError(`record ${i}'s digest cannot go to offset ${offset} (${this.count} records of ${this.size} bytes)`);
    }
    this.links[i] = offset;
  }

  /** Hashes the records in order (following the links): digest i is at [32·i, 32·i + 32) of the result. */
  digest(): Buffer {
    if (this.out.length < 32 * this.count) this.out = Buffer.allocUnsafeSlow(32 * Math.max(this.count, 2 * this.out.length / 32));
    if (this.count === 0) return this.out;
    if (this.native !== undefined) {
      this.native.sha256Linked(this.records.subarray(0, this.count * this.size), this.links.subarray(0, this.count), this.out);
    } else {
      for (let i = 0; i < this.count; i++) {
        const d = hash('sha256', this.records.subarray(i * this.size, (i + 1) * this.size), 'binary');
        latin1Write.call(this.out, d, 32 * i, 32);
        if (this.links[i]! >= 0) latin1Write.call(this.records, d, this.links[i]!, 32);
      }
    }
    return this.out;
  }

  reset(): void {
    this.count = 0;
    if (this.records.length > KEEP_BYTES) {
      this.records = Buffer.allocUnsafeSlow(this.size * INITIAL_INPUTS);
      this.links = new Int32Array(INITIAL_INPUTS);
    }
    if (this.out.length > KEEP_BYTES) this.out = Buffer.allocUnsafeSlow(32 * INITIAL_INPUTS);
  }
}
