/** sha256 of the concatenation of its arguments (node:crypto on the node's hot path). */
import { hash } from 'node:crypto';

// Small inputs are joined here and hashed in one shot: crypto.hash costs a fraction of a Hash object's
// create/update/digest for the tens of bytes Merkle nodes and leaves are. Hashing is synchronous, so
// the scratch is never shared.
const SCRATCH_BYTES = 4096;
const scratch = new Uint8Array(SCRATCH_BYTES);

export function sha256(...parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return digestBytes(hash('sha256', parts[0]!, 'binary'));
  let n = 0;
  for (const p of parts) n += p.length;
  const joined = n <= SCRATCH_BYTES ? scratch.subarray(0, n) : new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    joined.set(p, at);
    at += p.length;
  }
  return digestBytes(hash('sha256', joined, 'binary'));
}

// crypto.hash's 'buffer' output allocates a backing store per digest, about half the cost of hashing a
// transaction; a latin1 ('binary') digest copied into a small array (kept on V8's heap) costs a fraction.
function digestBytes(latin1: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = latin1.charCodeAt(i);
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/**
 * Parses hex with or without a 0x (or 0X) prefix, digits in either case, as the SDK's parser does;
 * undefined if it is not hex of an even length (or not `length` bytes when given).
 */
export function fromHex(text: string, length?: number): Uint8Array | undefined {
  const start = text.startsWith('0x') || text.startsWith('0X') ? 2 : 0;
  const chars = text.length - start;
  if (chars % 2 !== 0 || (length !== undefined && chars !== length * 2)) return undefined;
  // Buffer's hex decoder stops at the first non-hex pair: a short result means the text was not hex.
  const b = Buffer.from(start === 0 ? text : text.slice(start), 'hex');
  if (b.length * 2 !== chars) return undefined;
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}
