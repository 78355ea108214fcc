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

const INT: Record<string, { bytes: number; signed: boolean }> = {
  u8: { bytes: 1, signed: false }, u16: { bytes: 2, signed: false }, u32: { bytes: 4, signed: false },
  u64: { bytes: 8, signed: false }, u128: { bytes: 16, signed: false },
  i8: { bytes: 1, signed: true }, i16: { bytes: 2, signed: true }, i32: { bytes: 4, signed: true }, i64: { bytes: 8, signed: true },
};

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

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new CodecError(`${what}: expected an integer, got ${typeof v === 'string' ? JSON.stringify(v) : typeof v}`);
}

function toBytes(v: unknown, what: string): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (typeof v === 'string' && /^(0x)?([0-9a-fA-F]{2})*$/.test(v)) return new Uint8Array(Buffer.from(v.replace(/^0x/, ''), 'hex'));
  throw new CodecError(`${what}: expected bytes (Uint8Array or hex string)`);
}

class Writer {
  private buf = new Uint8Array(64);
  private view = new DataView(this.buf.buffer);
  private len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
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
  int(v: bigint, bytes: number): void {
    this.ensure(bytes);
    for (let i = 0; i < bytes; i++) {
      this.buf[this.len++] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

function encodeInto(w: Writer, t: AbiType, v: unknown, structs: StructTable, path: string): void {
  if (typeof t === 'string') {
    switch (t) {
      case 'bool':
        if (typeof v !== 'boolean') throw new CodecError(`${path}: expected a boolean`);
        w.small(v ? 1 : 0, 1);
        return;
      case 'string': {
        if (typeof v !== 'string') throw new CodecError(`${path}: expected a string`);
        const b = utf8.encode(v);
        w.small(b.length, 4);
        w.bytes(b);
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
          const lo = spec.signed ? -(2 ** (spec.bytes * 8 - 1)) : 0;
          const hi = spec.signed ? 2 ** (spec.bytes * 8 - 1) - 1 : 2 ** (spec.bytes * 8) - 1;
          if (v < lo || v > hi) throw new CodecError(`${path}: ${v} is out of range for ${t}`);
          w.small(v < 0 ? v + 2 ** (spec.bytes * 8) : v, spec.bytes);
          return;
        }
        const n = toBigInt(v, path);
        const bits = BigInt(spec.bytes * 8);
        const min = spec.signed ? -(1n << (bits - 1n)) : 0n;
        const max = spec.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
        if (n < min || n > max) throw new CodecError(`${path}: ${n} is out of range for ${t}`);
        w.int(BigInt.asUintN(Number(bits), n), spec.bytes);
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
    v.forEach((item, i) => encodeInto(w, t.array, item, structs, `${path}[${i}]`));
    return;
  }
  const fields = structs[t.struct];
  if (!fields) throw new CodecError(`${path}: unknown struct ${t.struct}`);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CodecError(`${path}: expected an object (${t.struct})`);
  const obj = v as Record<string, unknown>;
  for (const k of Object.keys(obj)) {
    if (!fields.some((f) => f.name === k)) throw new CodecError(`${path}: ${t.struct} has no field "${k}"`);
  }
  for (const f of fields) encodeInto(w, f.type, obj[f.name], structs, `${path}.${f.name}`);
}

/** Encodes a sequence of values (arguments of a method, or one value). */
export function encodeValues(types: readonly AbiType[], values: readonly unknown[], structs: StructTable = {}, names?: readonly string[]): Uint8Array {
  if (values.length !== types.length) throw new CodecError(`expected ${types.length} values, got ${values.length}`);
  const w = new Writer();
  types.forEach((t, i) => encodeInto(w, t, values[i], structs, names?.[i] ?? `#${i}`));
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
  small(bytes: number, path: string): number {
    if (bytes > this.bytes.length - this.pos) throw new CodecError(`${path}: unexpected end of data`);
    const p = this.pos;
    this.pos += bytes;
    return bytes === 1 ? this.bytes[p]! : bytes === 2 ? this.view.getUint16(p, true) : this.view.getUint32(p, true);
  }
  take(n: number, path: string): Uint8Array {
    if (n > this.bytes.length - this.pos) throw new CodecError(`${path}: unexpected end of data`);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  uint(bytes: number, path: string): bigint {
    const b = this.take(bytes, path);
    let v = 0n;
    for (let i = bytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }
}

function decodeFrom(r: Reader, t: AbiType, structs: StructTable, path: string): unknown {
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
    for (let i = 0; i < n; i++) out.push(decodeFrom(r, t.array, structs, `${path}[${i}]`));
    return out;
  }
  const fields = structs[t.struct];
  if (!fields) throw new CodecError(`${path}: unknown struct ${t.struct}`);
  const obj: Record<string, unknown> = {};
  for (const f of fields) obj[f.name] = decodeFrom(r, f.type, structs, `${path}.${f.name}`);
  return obj;
}

/** Decodes a sequence of values; the data must be consumed exactly. */
export function decodeValues(types: readonly AbiType[], bytes: Uint8Array, structs: StructTable = {}, names?: readonly string[]): unknown[] {
  const r = new Reader(bytes);
  const out = types.map((t, i) => decodeFrom(r, t, structs, names?.[i] ?? `#${i}`));
  if (r.pos !== bytes.length) throw new CodecError(`${bytes.length - r.pos} trailing bytes after the last value`);
  return out;
}

export function decode(t: AbiType, bytes: Uint8Array, structs: StructTable = {}): unknown {
  return decodeValues([t], bytes, structs)[0];
}
