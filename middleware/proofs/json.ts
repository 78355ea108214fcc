/**
 * Strict readers for the JSON of bundles and holding proofs (every field checked, none extra) and the
 * canonical value forms: bytes as lowercase 0x-hex, 64- and 128-bit integers as decimal strings,
 * heights and times as JSON integers. Browser-safe.
 */
import { ProofError, type ProofErrorCode } from './errors.ts';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes: Uint8Array): string {
  let s = '0x';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function bad(path: string, message: string, code: ProofErrorCode = 'PROOF_MALFORMED'): never {
  throw new ProofError(code, message, path);
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** An object with exactly these fields (no others). */
export function object(v: unknown, path: string, fields: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'expected an object');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!fields.includes(k)) bad(path, `unexpected field "${k}"`);
  for (const f of fields) if (!(f in o)) bad(path, `missing field "${f}"`);
  return o;
}

export function array(v: unknown, path: string, max = 100_000): unknown[] {
  if (!Array.isArray(v)) bad(path, 'expected an array');
  if (v.length > max) bad(path, `more than ${max} items`);
  return v;
}

export function string(v: unknown, path: string, max = 1 << 20): string {
  if (typeof v !== 'string') bad(path, 'expected a string');
  if (v.length > max) bad(path, `longer than ${max} characters`);
  return v;
}

/** Lowercase 0x-hex only (one spelling per value), of `length` bytes when given. */
export function bytes(v: unknown, path: string, length?: number): Uint8Array {
  if (typeof v !== 'string' || !/^0x(?:[0-9a-f]{2})*$/.test(v)) bad(path, 'expected lowercase 0x-hex bytes');
  const out = new Uint8Array((v.length - 2) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(v.slice(2 + 2 * i, 4 + 2 * i), 16);
  if (length !== undefined && out.length !== length) bad(path, `expected ${length} bytes, got ${out.length}`);
  return out;
}

/** A non-negative JSON integer (heights, times, rounds). */
export function uint(v: unknown, path: string): bigint {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(path, 'expected a non-negative integer');
  return BigInt(v);
}

/** A decimal string without leading zeros, below 2^bits (voucher ids, amounts). */
export function decimal(v: unknown, path: string, bits: number): bigint {
  if (typeof v !== 'string' || !/^(0|[1-9][0-9]*)$/.test(v) || v.length > 40) bad(path, 'expected a decimal string');
  const n = BigInt(v);
  if (n >= 1n << BigInt(bits)) bad(path, `above the ${bits}-bit range`);
  return n;
}

export function boolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') bad(path, 'expected true or false');
  return v;
}

/** A JSON integer for heights and times (u64 on chain; exact below 2^53, which they never reach). */
export function jsonInt(n: bigint): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`${n} is beyond exact JSON integers`);
  return Number(n);
}

/** A value decoded through the codec, as JSON: bytes as 0x-hex, bigints as decimal strings (as RPC gives them). */
export function valueJson(v: unknown): Json {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return toHex(v);
  if (Array.isArray(v)) return v.map(valueJson);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, valueJson(x)]));
  return v as Json;
}

/** Deep equality of JSON values, key order included (canonical forms compare exactly). */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
