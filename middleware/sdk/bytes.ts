/** Bytes and hex for the SDK, with web globals only (no Buffer): the same code runs in browsers. */
import { SdkError } from './errors.ts';

/** Bytes as callers give them: a Uint8Array or hex text (with or without 0x). */
export type Bytes = Uint8Array | string;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** 0x-prefixed lower-case hex, the form RPC uses for bytes. */
export function toHex(bytes: Uint8Array): string {
  let s = '0x';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

/** Parses hex (0x optional); SDK_BAD_BYTES unless it is hex of an even length (and `length` bytes when given). */
export function fromHex(text: string, length?: number, what = 'value'): Uint8Array {
  const body = text.startsWith('0x') || text.startsWith('0X') ? text.slice(2) : text;
  if (!/^([0-9a-fA-F]{2})*$/.test(body)) throw new SdkError('SDK_BAD_BYTES', `${what} is not hex`);
  if (length !== undefined && body.length !== length * 2) throw new SdkError('SDK_BAD_BYTES', `${what} must be ${length} bytes, got ${body.length / 2}`);
  const out = new Uint8Array(body.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(body.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesOf(value: Bytes, length?: number, what = 'value'): Uint8Array {
  if (value instanceof Uint8Array) {
    if (length !== undefined && value.length !== length) throw new SdkError('SDK_BAD_BYTES', `${what} must be ${length} bytes, got ${value.length}`);
    return value;
  }
  if (typeof value === 'string') return fromHex(value, length, what);
  throw new SdkError('SDK_BAD_BYTES', `${what} must be a Uint8Array or hex text`);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A random u64 from the platform's CSPRNG: a transaction nonce (SPEC C4). */
export function randomNonce(): bigint {
  return new DataView(crypto.getRandomValues(new Uint8Array(8)).buffer).getBigUint64(0);
}

const utf8 = new TextEncoder();

/**
 * The storage key of an item in a contract collection, as the contract SDK lays it out: u8 prefix
 * length ‖ prefix ‖ item key (strings as UTF-8, bytes as they are). For state proofs (`stateProof`).
 */
export function storageKey(prefix: string, item: string | Uint8Array): Uint8Array {
  const p = utf8.encode(prefix);
  if (p.length === 0 || p.length > 64) throw new SdkError('SDK_BAD_BYTES', 'collection prefixes are 1 to 64 bytes');
  const k = typeof item === 'string' ? utf8.encode(item) : item;
  const out = new Uint8Array(1 + p.length + k.length);
  out[0] = p.length;
  out.set(p, 1);
  out.set(k, 1 + p.length);
  return out;
}
