import * as env from "./env";
import { Bytes32, Address } from "./bytes32";

function read32(f: (ptr: usize) => void): Bytes32 {
  const b = new Uint8Array(32);
  f(b.dataStart);
  return new Bytes32(b);
}

/** What the running call knows about itself and its block. */
export namespace Context {
  /** The account (or contract, for a cross-contract call) that called. */
  export function caller(): Address { return read32(env.caller); }
  /** This contract's own address. */
  export function contract(): Address { return read32(env.address); }
  /** Hash of the transaction being executed (zero in a read-only query). */
  export function txHash(): Bytes32 { return read32(env.tx_hash); }
  export function blockHeight(): u64 { return <u64>env.block_height(); }
  /** Block time in milliseconds since the Unix epoch. */
  export function blockTime(): u64 { return <u64>env.block_time(); }
  export function gasLeft(): u64 { return <u64>env.gas_left(); }
  /** The raw call input (methods built by `brop contract build` decode it for you). */
  export function input(): Uint8Array {
    const b = new Uint8Array(env.input_len());
    env.input_read(b.dataStart);
    return b;
  }
}

/** Sets the raw return data of the call. */
export function returnData(data: Uint8Array): void {
  env.output(data.dataStart, data.length);
}

/** A debug line, shown by the simulation kit; not part of consensus. */
export function log(message: string): void {
  const b = String.UTF8.encode(message);
  env.log(changetype<usize>(b), b.byteLength);
}
