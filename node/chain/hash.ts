/** sha256 of the concatenation of its arguments (node:crypto on the node's hot path). */
import { createHash } from 'node:crypto';

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** Parses hex with or without 0x; undefined if it is not hex of an even length (or not `length` bytes when given). */
export function fromHex(text: string, length?: number): Uint8Array | undefined {
  const h = text.startsWith('0x') ? text.slice(2) : text;
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) return undefined;
  const b = new Uint8Array(Buffer.from(h, 'hex'));
  return length === undefined || b.length === length ? b : undefined;
}
