import * as env from "./env";
import { Address } from "./bytes32";

/** The outcome of a cross-contract call: its return data, or `CODE: message` when it failed. */
export class CallResult {
  ok: bool;
  data: Uint8Array;
  constructor(ok: bool, data: Uint8Array) {
    this.ok = ok;
    this.data = data;
  }
}

/**
 * Calls `method` of the contract at `target` with codec-encoded `args`. A failed callee's effects
 * are discarded; this call goes on. `gas` < 0 forwards all that is left.
 */
export function callContract(target: Address, method: string, args: Uint8Array, gas: i64 = -1): CallResult {
  const m = String.UTF8.encode(method);
  const status = env.call(target.bytes.dataStart, changetype<usize>(m), m.byteLength, args.dataStart, args.length, gas);
  const data = new Uint8Array(env.result_len());
  env.result_read(data.dataStart);
  return new CallResult(status == 0, data);
}
