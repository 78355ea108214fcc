// Codec round trips, AssemblyScript side: decode what TypeScript encoded, encode it again.
import { Encoder, Decoder, decodeValue, encodeValue, Bytes32, U128, Context, returnData } from "../../assembly/index";

class Inner {
  name: string = "";
  tag: u8 = 0;
  __encode(e: Encoder): void {
    encodeValue<string>(e, this.name);
    encodeValue<u8>(e, this.tag);
  }
  __decode(d: Decoder): void {
    this.name = decodeValue<string>(d);
    this.tag = decodeValue<u8>(d);
  }
}

class AllTypes {
  b: bool = false;
  a8: u8 = 0; a16: u16 = 0; a32: u32 = 0; a64: u64 = 0;
  s8: i8 = 0; s16: i16 = 0; s32: i32 = 0; s64: i64 = 0;
  big: U128 = new U128();
  text: string = "";
  blob: Uint8Array = new Uint8Array(0);
  id: Bytes32 = Bytes32.zero();
  maybe: string | null = null;
  maybeInner: Inner | null = null;
  list: Array<u64> = [];
  inners: Array<Inner> = [];
  nested: Array<Array<string>> = [];
  __encode(e: Encoder): void {
    encodeValue<bool>(e, this.b);
    encodeValue<u8>(e, this.a8); encodeValue<u16>(e, this.a16); encodeValue<u32>(e, this.a32); encodeValue<u64>(e, this.a64);
    encodeValue<i8>(e, this.s8); encodeValue<i16>(e, this.s16); encodeValue<i32>(e, this.s32); encodeValue<i64>(e, this.s64);
    encodeValue<U128>(e, this.big);
    encodeValue<string>(e, this.text);
    encodeValue<Uint8Array>(e, this.blob);
    encodeValue<Bytes32>(e, this.id);
    encodeValue<string | null>(e, this.maybe);
    encodeValue<Inner | null>(e, this.maybeInner);
    encodeValue<Array<u64>>(e, this.list);
    encodeValue<Array<Inner>>(e, this.inners);
    encodeValue<Array<Array<string>>>(e, this.nested);
  }
  __decode(d: Decoder): void {
    this.b = decodeValue<bool>(d);
    this.a8 = decodeValue<u8>(d); this.a16 = decodeValue<u16>(d); this.a32 = decodeValue<u32>(d); this.a64 = decodeValue<u64>(d);
    this.s8 = decodeValue<i8>(d); this.s16 = decodeValue<i16>(d); this.s32 = decodeValue<i32>(d); this.s64 = decodeValue<i64>(d);
    this.big = decodeValue<U128>(d);
    this.text = decodeValue<string>(d);
    this.blob = decodeValue<Uint8Array>(d);
    this.id = decodeValue<Bytes32>(d);
    this.maybe = decodeValue<string | null>(d);
    this.maybeInner = decodeValue<Inner | null>(d);
    this.list = decodeValue<Array<u64>>(d);
    this.inners = decodeValue<Array<Inner>>(d);
    this.nested = decodeValue<Array<Array<string>>>(d);
  }
}

export function roundtrip(): void {
  const d = new Decoder(Context.input());
  const v = decodeValue<AllTypes>(d);
  d.end();
  const e = new Encoder();
  encodeValue<AllTypes>(e, v);
  returnData(e.finish());
}

// Values produced on this side, for TypeScript to decode: edge values of every type.
export function edges(): void {
  const v = new AllTypes();
  v.b = true;
  v.a8 = u8.MAX_VALUE; v.a16 = u16.MAX_VALUE; v.a32 = u32.MAX_VALUE; v.a64 = u64.MAX_VALUE;
  v.s8 = i8.MIN_VALUE; v.s16 = i16.MIN_VALUE; v.s32 = i32.MIN_VALUE; v.s64 = i64.MIN_VALUE;
  v.big = U128.max();
  v.text = "登记 ✓ 🚀";
  v.blob = new Uint8Array(3);
  v.blob[0] = 0; v.blob[1] = 255; v.blob[2] = 7;
  const id = new Uint8Array(32);
  for (let i = 0; i < 32; i++) id[i] = <u8>i;
  v.id = new Bytes32(id);
  v.maybe = "";
  const inner = new Inner();
  inner.name = "x";
  inner.tag = 9;
  v.maybeInner = inner;
  v.list = [0, 1, u64.MAX_VALUE];
  v.inners = [inner, new Inner()];
  v.nested = [[], ["a", "bc"]];
  const e = new Encoder();
  encodeValue<AllTypes>(e, v);
  returnData(e.finish());
}

// u128 arithmetic checks, returned as decimal strings.
export function u128math(): void {
  const max = U128.max();
  const one = U128.from(1);
  const e = new Encoder();
  encodeValue<string>(e, max.toString());
  encodeValue<string>(e, max.sub(one).add(one).toString());
  encodeValue<string>(e, U128.from(u64.MAX_VALUE).add(one).toString());
  encodeValue<string>(e, new U128(5, 1).sub(U128.from(6)).toString());
  returnData(e.finish());
}

export function u128overflow(): void {
  U128.max().add(U128.from(1));
}
