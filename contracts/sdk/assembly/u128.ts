import { Encoder, Decoder } from "./codec";
import { fail } from "./errors";

/** Unsigned 128-bit amounts with checked arithmetic (overflow and underflow fail the call). */
export class U128 {
  lo: u64;
  hi: u64;

  constructor(lo: u64 = 0, hi: u64 = 0) {
    this.lo = lo;
    this.hi = hi;
  }

  static from(v: u64): U128 {
    return new U128(v, 0);
  }

  static max(): U128 {
    return new U128(u64.MAX_VALUE, u64.MAX_VALUE);
  }

  isZero(): bool {
    return this.lo == 0 && this.hi == 0;
  }

  eq(o: U128): bool {
    return this.lo == o.lo && this.hi == o.hi;
  }

  lt(o: U128): bool {
    return this.hi < o.hi || (this.hi == o.hi && this.lo < o.lo);
  }

  lte(o: U128): bool {
    return !o.lt(this);
  }

  gt(o: U128): bool {
    return o.lt(this);
  }

  add(o: U128): U128 {
    const lo = this.lo + o.lo;
    const carry: u64 = lo < this.lo ? 1 : 0;
    const hi = this.hi + o.hi + carry;
    if (hi < this.hi || (hi == this.hi && carry == 1 && o.hi == u64.MAX_VALUE)) fail("AMOUNT_OVERFLOW", "amount overflows u128");
    return new U128(lo, hi);
  }

  sub(o: U128): U128 {
    if (this.lt(o)) fail("AMOUNT_UNDERFLOW", "amount would go below zero");
    const borrow: u64 = this.lo < o.lo ? 1 : 0;
    return new U128(this.lo - o.lo, this.hi - o.hi - borrow);
  }

  /** Decimal digits. */
  toString(): string {
    if (this.hi == 0) return this.lo.toString();
    // Long division by 10^19 (fits u64) on the two halves.
    let hi = this.hi, lo = this.lo;
    let digits = "";
    const BASE: u64 = 10_000_000_000_000_000_000;
    while (hi != 0 || lo != 0) {
      // (hi * 2^64 + lo) / BASE, one bit at a time on the remainder
      let rem: u64 = 0;
      let qhi: u64 = 0, qlo: u64 = 0;
      for (let i = 127; i >= 0; i--) {
        const bit: u64 = i >= 64 ? (hi >> <u64>(i - 64)) & 1 : (lo >> <u64>i) & 1;
        const top = rem >> 63;
        rem = (rem << 1) | bit;
        if (top != 0 || rem >= BASE) {
          rem -= BASE;
          if (i >= 64) qhi |= (<u64>1) << <u64>(i - 64);
          else qlo |= (<u64>1) << <u64>i;
        }
      }
      hi = qhi;
      lo = qlo;
      let chunk = rem.toString();
      if (hi != 0 || lo != 0) while (chunk.length < 19) chunk = "0" + chunk;
      digits = chunk + digits;
    }
    return digits;
  }

  __encode(e: Encoder): void {
    e.u64(this.lo);
    e.u64(this.hi);
  }

  __decode(d: Decoder): void {
    this.lo = d.u64();
    this.hi = d.u64();
  }
}
