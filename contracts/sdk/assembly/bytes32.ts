import { Encoder, Decoder } from "./codec";
import { fail } from "./errors";

const HEX = "0123456789abcdef";

/** Exactly 32 bytes: addresses, digests, hashes. Encoded as 32 raw bytes (no length prefix). */
export class Bytes32 {
  bytes: Uint8Array;

  constructor(bytes: Uint8Array = new Uint8Array(32)) {
    if (bytes.length != 32) fail("BAD_BYTES32", "expected exactly 32 bytes");
    this.bytes = bytes;
  }

  static zero(): Bytes32 {
    return new Bytes32(new Uint8Array(32));
  }

  equals(other: Bytes32): bool {
    for (let i = 0; i < 32; i++) if (unchecked(this.bytes[i]) != unchecked(other.bytes[i])) return false;
    return true;
  }

  isZero(): bool {
    for (let i = 0; i < 32; i++) if (unchecked(this.bytes[i]) != 0) return false;
    return true;
  }

  toHex(): string {
    const out = new Uint8Array(64);
    for (let i = 0; i < 32; i++) {
      const b = unchecked(this.bytes[i]);
      unchecked(out[2 * i] = <u8>HEX.charCodeAt(b >> 4));
      unchecked(out[2 * i + 1] = <u8>HEX.charCodeAt(b & 15));
    }
    return String.UTF8.decodeUnsafe(out.dataStart, 64);
  }

  __encode(e: Encoder): void {
    e.raw(this.bytes);
  }

  __decode(d: Decoder): void {
    this.bytes = d.raw(32);
  }
}

/** An account or contract address. */
export type Address = Bytes32;
