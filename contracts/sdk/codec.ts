/**
 * The BROP codec, TypeScript side: one canonical binary encoding shared with the AssemblyScript SDK
 * (contracts/sdk/assembly/codec.ts). The layout is Borsh's: little-endian fixed-width integers, u32
 * length prefixes, a 0/1 tag for options, struct fields in declaration order. Decoding is strict:
 * a value has exactly one encoding, so equal values always hash equal.
 */

export type AbiType =
  | 'bool' | 'u8' | 'u16' | 'u32' | 'u64' | 'u128' | 'i8' | 'i16' | 'i32' | 'i64'
  | 'string' | 'bytes' | 'bytes32'
  | { option: AbiType }
  | { array: AbiType }
  | { struct: string };

export interface AbiField { name: string; type: AbiType }
/** Struct definitions by name. */
export type StructTable = Readonly<Record<string, readonly AbiField[]>>;

export class CodecError extends Error {
  readonly code = 'CODEC_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

interface IntSpec { bytes: number; signed: boolean; min: bigint; max: bigint; minNumber: number; maxNumber: number }

function intSpec(bytes: number, signed: boolean): IntSpec {
  const bits = BigInt(bytes * 8);
  const min = signed ? -(1n << (bits - 1n)) : 0n;
  const max = signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  return { bytes, signed, min, max, minNumber: Number(min), maxNumber: Number(max) };
}

const INT: Record<string, IntSpec> = {
  u8: intSpec(1, false), u16: intSpec(2, false), u32: intSpec(4, false), u64: intSpec(8, false), u128: intSpec(16, false),
  i8: intSpec(1, true), i16: intSpec(2, true), i32: intSpec(4, true), i64: intSpec(8, true),
};

/**
 * Where in a value the codec is, for error messages: segments are pushed and popped as it descends,
 * and joined only when something is wrong (building a path string per value is most of the cost).
 */
class Trail {
  private readonly parts: Array<string | number>;
  constructor(root: string) {
    this.parts = [root];
  }
  push(part: string | number): void {
    this.parts.push(part);
  }
  pop(): void {
    this.parts.pop();
  }
  toString(): string {
    return this.parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  }
}

/** Types whose JS representation is bigint (u64, i64, u128); the rest of the integers are numbers. */
export function isBigIntType(t: AbiType): boolean {
  return t === 'u64' || t === 'i64' || t === 'u128';
}

export function typeName(t: AbiType): string {
  if (typeof t === 'string') return t;
  if ('option' in t) return `${typeName(t.option)} | null`;
  if ('array' in t) return `Array<${typeName(t.array)}>`;
  return t.struct;
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function toBigInt(v: unknown, what: Trail): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new CodecError(`${what}: expected an integer, got ${typeof v === 'string' ? JSON.stringify(v) : typeof v}`);
}

/** Hex (already validated) as bytes, without Buffer: the codec also runs in browsers (the proof verifier). */
function hexBytes(v: string): Uint8Array {
  const start = v.startsWith('0x') ? 2 : 0;
  const out = new Uint8Array((v.length - start) / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(v.slice(start + 2 * i, start + 2 * i + 2), 16);
  return out;
}

function toBytes(v: unknown, what: Trail): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string' && /^(0x)?([0-9a-fA-F]{2})*$/.test(v)) return hexBytes(v);
  throw new CodecError(`${what}: expected bytes (Uint8Array or hex string)`);
}

/**
 * Encoding goes into one scratch buffer reused by every call (encoding never re-enters itself), and
 * `finish` copies the result out: one allocation per encoded value instead of one per piece.
 */
class Writer {
  private static scratch = new Uint8Array(1024);
  private static scratchView = new DataView(Writer.scratch.buffer);
  private buf = Writer.scratch;
  private view = Writer.scratchView;
  private len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
    if (next.length <= 1 << 20) {
      Writer.scratch = next;
      Writer.scratchView = this.view;
    }
  }
  /** A string as u32 byte length + UTF-8, without an intermediate array for short ASCII strings. */
  string(v: string): void {
    const n = v.length;
    if (n <= 256) {
      this.ensure(4 + n);
      const at = this.len + 4;
      let i = 0;
      for (; i < n; i++) {
        const c = v.charCodeAt(i);
        if (c >= 0x80) break;
        this.buf[at + i] = c;
      }
      if (i === n) {
        this.view.setUint32(this.len, n, true);
        this.len = at + n;
        return;
      }
    }
    const b = utf8.encode(v);
    this.small(b.length, 4);
    this.bytes(b);
  }
  /** Unsigned integers of up to 4 bytes, without BigInt. */
  small(v: number, bytes: number): void {
    this.ensure(bytes);
    if (bytes === 1) this.buf[this.len] = v;
    else if (bytes === 2) this.view.setUint16(this.len, v, true);
    else this.view.setUint32(this.len, v, true);
    this.len += bytes;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Unsigned (already wrapped) integers of 8 or 16 bytes. */
  int(v: bigint, bytes: number): void {
    this.ensure(bytes);
    this.view.setBigUint64(this.len, BigInt.asUintN(64, v), true);
    if (bytes === 16) this.view.setBigUint64(this.len + 8, v >> 64n, true);
    this.len += bytes;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function encodeInto(w: Writer, t: AbiType, v: unknown, structs: StructTable, path: Trail): void {
  if (typeof t === 'string') {
    switch (t) {
      case 'bool':
        if (typeof v !== 'boolean') throw new CodecError(`${path}: expected a boolean`);
        w.small(v ? 1 : 0, 1);
        return;
      case 'string': {
        if (typeof v !== 'string') throw new CodecError(`${path}: expected a string`);
        // UTF-8 has no encoding for a lone surrogate: it would be stored as U+FFFD, another string than the one given.
        if (!v.isWellFormed()) throw new CodecError(`${path}: the string holds a lone surrogate (not valid Unicode)`);
        w.string(v);
        return;
      }
      case 'bytes': {
        const b = toBytes(v, path);
        w.small(b.length, 4);
        w.bytes(b);
        return;
      }
      case 'bytes32': {
        const b = toBytes(v, path);
        if (b.length !== 32) throw new CodecError(`${path}: expected 32 bytes, got ${b.length}`);
        w.bytes(b);
        return;
      }
      default: {
        const spec = INT[t];
        if (!spec) throw new CodecError(`${path}: unknown type ${t}`);
        if (spec.bytes <= 4 && typeof v === 'number' && Number.isInteger(v)) {
          // Fast path: small integers as numbers.
          if (v < spec.minNumber || v > spec.maxNumber) throw new CodecError(`${path}: ${v} is out of range for ${t}`);
          w.small(v < 0 ? v + 2 ** (spec.bytes * 8) : v, spec.bytes);
          return;
        }
        const n = toBigInt(v, path);
        if (n < spec.min || n > spec.max) throw new CodecError(`${path}: ${n} is out of range for ${t}`);
        if (spec.bytes <= 4) w.small(Number(BigInt.asUintN(spec.bytes * 8, n)), spec.bytes);
        else w.int(BigInt.asUintN(spec.bytes * 8, n), spec.bytes);
        return;
      }
    }
  }
  if ('option' in t) {
    if (v === null || v === undefined) return w.small(0, 1);
    w.small(1, 1);
    return encodeInto(w, t.option, v, structs, path);
  }
  if ('array' in t) {
    if (!Array.isArray(v)) throw new CodecError(`${path}: expected an array`);
    w.small(v.length, 4);
    for (let i = 0; i < v.length; i++) {
      path.push(i);
      encodeInto(w, t.array, v[i], structs, path);
      path.pop();
    }
    return;
  }
  const fields = structs[t.struct];
  if (!fields) throw new CodecError(`${path}: unknown struct ${t.struct}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CodecError(`${path}: expected an object (${t.struct})`);
  const obj = v as Record<string, unknown>;
  for (const k in obj) {
    if (Object.hasOwn(obj, k) && !fields.some((f) => f.name === k)) throw new CodecError(`${path}: ${t.struct} has no field "${k}"`);
  }
  for (const f of fields) {
    path.push(f.name);
    encodeInto(w, f.type, obj[f.name], structs, path);
    path.pop();
  }
}

/** Encodes a sequence of values (arguments of a method, or one value). */
export function encodeValues(types: readonly AbiType[], values: readonly unknown[], structs: StructTable = {}, names?: readonly string[]): Uint8Array {
  if (values.length !== types.length) throw new CodecError(`expected ${types.length} values, got ${values.length}`);
  const w = new Writer();
  for (let i = 0; i < types.length; i++) encodeInto(w, types[i]!, values[i], structs, new Trail(names?.[i] ?? `#${i}`));
  return w.finish();
}

export function encode(t: AbiType, value: unknown, structs: StructTable = {}): Uint8Array {
  return encodeValues([t], [value], structs);
}

class Reader {
  pos = 0;
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  /** Unsigned integers of up to 4 bytes, without BigInt. */
  small(bytes: number, path: Trail): number {
    if (bytes > this.bytes.length - this.pos) throw new CodecError(`${path}: unexpected end of data`);
    const p = this.pos;
    this.pos += bytes;
    return bytes === 1 ? this.bytes[p]! : bytes === 2 ? this.view.getUint16(p, true) : this.view.getUint32(p, true);
  }
  take(n: number, path: Trail): Uint8Array {
    if (n > this.bytes.length - this.pos) throw new CodecError(`${path}: unexpected end of data`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  /** Unsigned integers of 8 or 16 bytes. */
  uint(bytes: number, path: Trail): bigint {
    if (bytes > this.bytes.length - this.pos) throw new CodecError(`${path}: unexpected end of data`);
    const p = this.pos;
    this.pos += bytes;
    const lo = this.view.getBigUint64(p, true);
    return bytes === 16 ? lo | (this.view.getBigUint64(p + 8, true) << 64n) : lo;
  }
}

function decodeFrom(r: Reader, t: AbiType, structs: StructTable, path: Trail): unknown {
  if (typeof t === 'string') {
    switch (t) {
      case 'bool': {
        const b = r.small(1, path);
        if (b > 1) throw new CodecError(`${path}: a boolean is 0 or 1, got ${b}`);
        return b === 1;
      }
      case 'string':
        try {
          return strictUtf8.decode(r.take(r.small(4, path), path));
        } catch (e) {
          if (e instanceof CodecError) throw e;
          throw new CodecError(`${path}: string is not valid UTF-8`);
        }
      case 'bytes':
        return r.take(r.small(4, path), path).slice();
      case 'bytes32':
        return r.take(32, path).slice();
      default: {
        const spec = INT[t];
        if (!spec) throw new CodecError(`${path}: unknown type ${t}`);
        if (spec.bytes <= 4) {
          const u = r.small(spec.bytes, path);
          const bits = spec.bytes * 8;
          return spec.signed && u >= 2 ** (bits - 1) ? u - 2 ** bits : u;
        }
        const raw = r.uint(spec.bytes, path);
        const v = spec.signed ? BigInt.asIntN(spec.bytes * 8, raw) : raw;
        return isBigIntType(t) ? v : Number(v);
      }
    }
  }
  if ('option' in t) {
    const tag = r.small(1, path);
    if (tag > 1) throw new CodecError(`${path}: an option tag is 0 or 1, got ${tag}`);
    return tag === 0 ? null : decodeFrom(r, t.option, structs, path);
  }
  if ('array' in t) {
    const n = r.small(4, path);
    if (n > r.bytes.length - r.pos) throw new CodecError(`${path}: array of ${n} items cannot fit the remaining data`);
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) {
      path.push(i);
      out.push(decodeFrom(r, t.array, structs, path));
      path.pop();
    }
    return out;
  }
  const fields = structs[t.struct];
  if (!fields) throw new CodecError(`${path}: unknown struct ${t.struct}`);
  const obj: Record<string, unknown> = {};
  for (const f of fields) {
    path.push(f.name);
    obj[f.name] = decodeFrom(r, f.type, structs, path);
    path.pop();
  }
  return obj;
}

/** Decodes a sequence of values; the data must be consumed exactly. */
export function decodeValues(types: readonly AbiType[], bytes: Uint8Array, structs: StructTable = {}, names?: readonly string[]): unknown[] {
  const r = new Reader(bytes);
  const out = types.map((t, i) => decodeFrom(r, t, structs, new Trail(names?.[i] ?? `#${i}`)));
  if (r.pos !== bytes.length) throw new CodecError(`${bytes.length - r.pos} trailing bytes after the last value`);
  return out;
}

export function decode(t: AbiType, bytes: Uint8Array, structs: StructTable = {}): unknown {
  return decodeValues([t], bytes, structs)[0];
}
