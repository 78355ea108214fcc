/**
 * The BROP codec, AssemblyScript side (the TypeScript side is contracts/sdk/codec.ts): Borsh layout,
 * little-endian integers, u32 length prefixes, 0/1 option tags, struct fields in declaration order.
 * Decoding is strict (bad booleans, option tags, UTF-8 or trailing bytes fail with BAD_INPUT), so
 * every value has exactly one encoding.
 *
 * encodeValue<T>/decodeValue<T> handle bool, integers, string, Uint8Array, Array<T>, nullable T and
 * any class with `__encode(e)` / `__decode(d)` methods (Bytes32, U128, and classes marked
 * @serializable, whose methods `brop contract build` generates).
 */
import { fail } from "./errors";

export class Encoder {
  private buf: Uint8Array = new Uint8Array(64);
  private len: i32 = 0;

  private ensure(n: i32): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length << 1;
    while (cap < this.len + n) cap <<= 1;
    const next = new Uint8Array(cap);
    memory.copy(next.dataStart, this.buf.dataStart, this.len);
    this.buf = next;
  }

  bool(v: bool): void { this.u8(v ? 1 : 0); }
  u8(v: u8): void { this.ensure(1); store<u8>(this.buf.dataStart + this.len, v); this.len += 1; }
  u16(v: u16): void { this.ensure(2); store<u16>(this.buf.dataStart + this.len, v); this.len += 2; }
  u32(v: u32): void { this.ensure(4); store<u32>(this.buf.dataStart + this.len, v); this.len += 4; }
  u64(v: u64): void { this.ensure(8); store<u64>(this.buf.dataStart + this.len, v); this.len += 8; }

  /** Bytes without a length prefix (fixed-size fields). */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    memory.copy(this.buf.dataStart + this.len, b.dataStart, b.length);
    this.len += b.length;
  }

  bytes(b: Uint8Array): void {
    this.u32(<u32>b.length);
    this.raw(b);
  }

  string(s: string): void {
    const n = String.UTF8.byteLength(s);
    this.u32(<u32>n);
    this.ensure(n);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.buf.dataStart + this.len);
    this.len += n;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export class Decoder {
  private data: Uint8Array;
  private pos: i32 = 0;

  constructor(data: Uint8Array) {
    this.data = data;
  }

  private need(n: i32): usize {
    if (n < 0 || n > this.data.length - this.pos) fail("BAD_INPUT", "unexpected end of input");
    const p = this.data.dataStart + this.pos;
    this.pos += n;
    return p;
  }

  bool(): bool {
    const b = this.u8();
    if (b > 1) fail("BAD_INPUT", "a boolean is 0 or 1");
    return b == 1;
  }
  u8(): u8 { return load<u8>(this.need(1)); }
  u16(): u16 { return load<u16>(this.need(2)); }
  u32(): u32 { return load<u32>(this.need(4)); }
  u64(): u64 { return load<u64>(this.need(8)); }

  raw(n: i32): Uint8Array {
    const p = this.need(n);
    const out = new Uint8Array(n);
    memory.copy(out.dataStart, p, n);
    return out;
  }

  bytes(): Uint8Array {
    const n = this.u32();
    if (n > <u32>(this.data.length - this.pos)) fail("BAD_INPUT", "unexpected end of input");
    return this.raw(<i32>n);
  }

  string(): string {
    const n = this.u32();
    if (n > <u32>(this.data.length - this.pos)) fail("BAD_INPUT", "unexpected end of input");
    const p = this.need(<i32>n);
    const s = String.UTF8.decodeUnsafe(p, n);
    // Canonical: only valid UTF-8 round-trips to the same bytes.
    if (<u32>String.UTF8.byteLength(s) != n) fail("BAD_INPUT", "string is not valid UTF-8");
    const check = String.UTF8.encode(s);
    if (memory.compare(changetype<usize>(check), p, n) != 0) fail("BAD_INPUT", "string is not valid UTF-8");
    return s;
  }

  /** Array and option sizes are checked against what is left, so a bogus length cannot allocate. */
  count(): i32 {
    const n = this.u32();
    if (n > <u32>(this.data.length - this.pos)) fail("BAD_INPUT", "collection longer than the input");
    return <i32>n;
  }

  end(): void {
    if (this.pos != this.data.length) fail("BAD_INPUT", "trailing bytes after the last value");
  }
}

export function encodeValue<T>(e: Encoder, v: T): void {
  if (isBoolean<T>()) {
    e.bool(<bool>v);
  } else if (isInteger<T>()) {
    if (sizeof<T>() == 1) e.u8(<u8>v);
    else if (sizeof<T>() == 2) e.u16(<u16>v);
    else if (sizeof<T>() == 4) e.u32(<u32>v);
    else e.u64(<u64>v);
  } else if (isFloat<T>()) {
    ERROR("floats have no place in the BROP codec: use integers");
  } else if (isString<T>()) {
    if (isNullable<T>()) {
      if (changetype<usize>(v) == 0) { e.u8(0); return; }
      e.u8(1);
    }
    e.string(changetype<string>(v));
  } else if (isReference<T>()) {
    if (isNullable<T>()) {
      if (changetype<usize>(v) == 0) { e.u8(0); return; }
      e.u8(1);
    }
    if (v instanceof Uint8Array) {
      e.bytes(changetype<Uint8Array>(v));
    } else if (isArray<T>()) {
      const a = changetype<nonnull<T>>(v);
      e.u32(<u32>a.length);
      for (let i = 0; i < a.length; i++) encodeValue<valueof<nonnull<T>>>(e, unchecked(a[i]));
    } else {
      changetype<nonnull<T>>(v).__encode(e);
    }
  } else {
    ERROR("unsupported type in the BROP codec");
  }
}

export function decodeValue<T>(d: Decoder): T {
  if (isBoolean<T>()) {
    return <T>d.bool();
  } else if (isInteger<T>()) {
    if (sizeof<T>() == 1) return <T>d.u8();
    else if (sizeof<T>() == 2) return <T>d.u16();
    else if (sizeof<T>() == 4) return <T>d.u32();
    else return <T>d.u64();
  } else if (isString<T>()) {
    if (isNullable<T>()) {
      const tag = d.u8();
      if (tag > 1) fail("BAD_INPUT", "an option tag is 0 or 1");
      if (tag == 0) return changetype<T>(0);
    }
    return changetype<T>(d.string());
  } else if (isReference<T>()) {
    if (isNullable<T>()) {
      const tag = d.u8();
      if (tag > 1) fail("BAD_INPUT", "an option tag is 0 or 1");
      if (tag == 0) return changetype<T>(0);
    }
    if (idof<nonnull<T>>() == idof<Uint8Array>()) {
      return changetype<T>(d.bytes());
    } else if (isArray<T>()) {
      const n = d.count();
      const a = instantiate<nonnull<T>>(0);
      for (let i = 0; i < n; i++) a.push(decodeValue<valueof<nonnull<T>>>(d));
      return changetype<T>(a);
    } else {
      const o = instantiate<nonnull<T>>();
      o.__decode(d);
      return changetype<T>(o);
    }
  }
  ERROR("unsupported type in the BROP codec");
  return unreachable();
}

/** Encodes one value to bytes. */
export function encode<T>(v: T): Uint8Array {
  const e = new Encoder();
  encodeValue<T>(e, v);
  return e.finish();
}

/** Decodes bytes holding exactly one value. */
export function decode<T>(data: Uint8Array): T {
  const d = new Decoder(data);
  const v = decodeValue<T>(d);
  d.end();
  return v;
}
