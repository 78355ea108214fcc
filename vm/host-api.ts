/**
 * The host API: the only imports a contract may have, with their exact signatures.
 * Pointers and lengths are i32 offsets into the contract's exported memory; addresses and hashes are 32 bytes.
 * See vm/README.md for the semantics of each call.
 */
import { I32 as i, I64 as j } from './wasm/module.ts';

export const HOST_MODULE = 'brop';

export interface HostSignature { params: number[]; results: number[] }

const sig = (params: number[], results: number[] = []): HostSignature => ({ params, results });

export const HOST_API: Readonly<Record<string, Readonly<Record<string, HostSignature>>>> = {
  brop: {
    input_len: sig([], [i]),
    input_read: sig([i]),
    output: sig([i, i]),
    caller: sig([i]),
    address: sig([i]),
    tx_hash: sig([i]),
    block_height: sig([], [j]),
    block_time: sig([], [j]),
    gas_left: sig([], [j]),
    storage_get: sig([i, i, i, i], [i]),
    storage_get_at: sig([i, i, i, i, i], [i]),
    storage_set: sig([i, i, i, i]),
    storage_remove: sig([i, i], [i]),
    storage_has: sig([i, i], [i]),
    storage_next: sig([i, i, i, i, i, i], [i]),
    emit: sig([i, i, i, i]),
    log: sig([i, i]),
    sha256: sig([i, i, i]),
    sm3: sig([i, i, i]),
    ed25519_verify: sig([i, i, i, i], [i]),
    call: sig([i, i, i, i, i, j], [i]),
    result_len: sig([], [i]),
    result_read: sig([i]),
    revert: sig([i, i, i, i]),
  },
  // AssemblyScript's runtime reports assertion and runtime failures through env.abort(msg, file, line, column).
  env: {
    abort: sig([i, i, i, i]),
  },
};
