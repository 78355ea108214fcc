/**
 * Host functions: the implementation of the host API (host-api.ts) for one live instance.
 * Every call charges gas before doing work, checks every pointer against the contract's memory,
 * and reports misuse as a typed VmError that aborts the call deterministically.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { CostTable } from './costs.ts';
import { VmError, deterministicErrorText } from './errors.ts';
import { type Journal, latin1Range } from './state.ts';
import { pooledBytes, pooledCopy } from './bytes.ts';

export interface HostLimits {
  maxInputBytes: number;
  maxOutputBytes: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  maxTopics: number;
  maxTopicBytes: number;
  maxEventDataBytes: number;
  maxEventsPerCall: number;
  maxLogBytes: number;
  maxMethodBytes: number;
}

export const DEFAULT_HOST_LIMITS: HostLimits = {
  maxInputBytes: 1024 * 1024,
  maxOutputBytes: 1024 * 1024,
  maxKeyBytes: 1024,
  maxValueBytes: 256 * 1024,
  maxTopics: 4,
  maxTopicBytes: 64,
  maxEventDataBytes: 64 * 1024,
  maxEventsPerCall: 1024,
  maxLogBytes: 4096,
  maxMethodBytes: 128,
};

export interface ContractEvent {
  contract: Uint8Array;
  topics: Uint8Array[];
  data: Uint8Array;
}

/** The context of one contract invocation, as the host functions see it. */
export interface Frame {
  contract: Uint8Array;
  caller: Uint8Array;
  input: Uint8Array;
  output: Uint8Array;
  txHash: Uint8Array;
  blockHeight: bigint;
  blockTime: bigint;
  readOnly: boolean;
  depth: number;
  journal: Journal;
  events: ContractEvent[];
  /** Events emitted so far by the whole call tree (shared by nested frames): the limit is per call tree. */
  eventCount: { n: number };
  logs: string[];
  /** Output (or failure description) of the last cross-contract call. */
  lastResult: Uint8Array;
}

/** The instance-side state the host functions need: gas and stack counters, memory. */
export interface HostInstance {
  current: Frame | null;
  /** The gas counter as host functions see and charge it: an f64 holding an integer. */
  hostGas: WebAssembly.Global;
  stack: WebAssembly.Global;
  memory: WebAssembly.Memory | undefined;
}

export interface NestedCallOutcome { ok: boolean; output: Uint8Array; gasUsed: number; error: VmError | null }
export type NestedCaller = (caller: Frame, instance: HostInstance, address: Uint8Array, method: string, input: Uint8Array, gas: number) => NestedCallOutcome;

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const keyCache = new Map<string, KeyObject | null>();

function ed25519Key(pk: Uint8Array): KeyObject | null {
  const id = Buffer.from(pk).toString('hex');
  let k = keyCache.get(id);
  if (k === undefined) {
    try {
      k = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, pk]), format: 'der', type: 'spki' });
    } catch {
      k = null;
    }
    if (keyCache.size >= 4096) keyCache.delete(keyCache.keys().next().value!);
    keyCache.set(id, k);
  }
  return k;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}


export function hostImports(inst: HostInstance, costs: CostTable, limits: HostLimits, nested: NestedCaller): WebAssembly.Imports {
  const hc = costs.host;
  let view = new Uint8Array(0);

  const frame = (): Frame => {
    const f = inst.current;
    if (!f) throw new VmError('VM_HOST_BAD_ARGUMENT', 'host function called outside a contract call');
    return f;
  };
  const charge = (amount: number): void => {
    const left = (inst.hostGas.value as number) - amount;
    inst.hostGas.value = left;
    if (left < 0) throw new VmError('VM_OUT_OF_GAS', 'out of gas');
  };
  const mem = (): Uint8Array => {
    // Growing memory detaches the old buffer (length 0): only then is a new view needed.
    if (view.length === 0) {
      const m = inst.memory;
      if (!m) throw new VmError('VM_HOST_BAD_ARGUMENT', 'the contract has no memory to exchange data through');
      view = new Uint8Array(m.buffer);
    }
    return view;
  };
  /** A view of contract memory; callers copy what they keep. */
  const read = (ptr: number, len: number): Uint8Array => {
    const m = mem();
    ptr >>>= 0;
    len >>>= 0;
    if (ptr + len > m.length) throw new VmError('VM_HOST_BAD_ARGUMENT', `memory range [${ptr}, ${ptr + len}) is outside the contract's memory`);
    return m.subarray(ptr, ptr + len);
  };
  /** A copy of a range of contract memory, in pooled memory (vm/bytes.ts): outputs, call inputs, keys looked up live briefly. */
  const copy = (ptr: number, len: number): Uint8Array => pooledCopy(read(ptr, len));
  /**
   * A copy for what outlives the call: storage keys and values, event topics and data. They live until
   * their block is stored (the committed state, the tree and the receipts keep copies of their own),
   * so pooled memory serves: ~0.15 µs against ~1-2 to allocate and collect memory of one's own.
   */
  const keep = (ptr: number, len: number): Uint8Array => pooledCopy(read(ptr, len));
  /** `keep` of two ranges in one allocation (a storage key and its value, an event's topics and data). */
  const keepTwo = (p1: number, l1: number, p2: number, l2: number): [Uint8Array, Uint8Array] => {
    const first = read(p1, l1), second = read(p2, l2);
    const both = pooledBytes(first.length + second.length);
    both.set(first, 0);
    both.set(second, first.length);
    return [both.subarray(0, first.length), both.subarray(first.length)];
  };
  const write = (ptr: number, data: Uint8Array): void => {
    const m = mem();
    ptr >>>= 0;
    if (ptr + data.length > m.length) throw new VmError('VM_HOST_BAD_ARGUMENT', `memory range [${ptr}, ${ptr + data.length}) is outside the contract's memory`);
    m.set(data, ptr);
  };
  const limit = (what: string, n: number, max: number): void => {
    if (n > max) throw new VmError('VM_HOST_LIMIT', `${what} of ${n} bytes exceeds the limit of ${max}`);
  };
  const writable = (f: Frame): void => {
    if (f.readOnly) throw new VmError('VM_HOST_BAD_ARGUMENT', 'state changes are not allowed in a read-only call');
  };
  const copyOut32 = (ptr: number, bytes: Uint8Array): void => {
    charge(hc.call + hc.perByte * 32);
    write(ptr, bytes);
  };
  const hash = (algorithm: 'sha256' | 'sm3') => (ptr: number, len: number, out: number): void => {
    charge(hc.hash + hc.hashPerByte * (len >>> 0));
    write(out, createHash(algorithm).update(read(ptr, len)).digest());
  };

  /** A storage key in contract memory as the journal's key string, with no intermediate copy. */
  const keyAt = (kp: number, kl: number): string => {
    limit('storage key', kl >>> 0, limits.maxKeyBytes);
    const m = mem();
    kp >>>= 0;
    kl >>>= 0;
    if (kp + kl > m.length) throw new VmError('VM_HOST_BAD_ARGUMENT', `memory range [${kp}, ${kp + kl}) is outside the contract's memory`);
    return latin1Range(m, kp, kp + kl);
  };
  const storageGet = (f: Frame, contract: Uint8Array, kp: number, kl: number, vp: number, vcap: number): number => {
    const k = keyAt(kp, kl);
    const v = f.journal.getByString(contract, k);
    // One charge for the whole read: key bytes, and the value bytes copied out.
    const n = v === undefined ? 0 : Math.min(v.length, vcap >>> 0);
    charge(hc.storageRead + hc.perByte * ((kl >>> 0) + n));
    if (v === undefined) return -1;
    write(vp, n === v.length ? v : v.subarray(0, n));
    return v.length;
  };
  // The addresses this instance named last, as stable objects: the journal caches each address
  // object's key string, and a contract usually names the same few contracts again and again.
  const recent: Uint8Array[] = [];
  const contractAt = (ap: number): Uint8Array => {
    const bytes = read(ap, 32);
    for (const a of recent) if (sameBytes(a, bytes)) return a;
    const a = bytes.slice();
    if (recent.length >= 8) recent.pop();
    recent.unshift(a);
    return a;
  };

  const brop = {
    input_len: (): number => {
      charge(hc.call);
      return frame().input.length;
    },
    input_read: (ptr: number): void => {
      const f = frame();
      charge(hc.call + hc.perByte * f.input.length);
      write(ptr, f.input);
    },
    output: (ptr: number, len: number): void => {
      const f = frame();
      limit('output', len >>> 0, limits.maxOutputBytes);
      charge(hc.call + hc.perByte * (len >>> 0));
      f.output = copy(ptr, len);
    },
    caller: (ptr: number): void => copyOut32(ptr, frame().caller),
    address: (ptr: number): void => copyOut32(ptr, frame().contract),
    tx_hash: (ptr: number): void => copyOut32(ptr, frame().txHash),
    block_height: (): bigint => {
      charge(hc.call);
      return frame().blockHeight;
    },
    block_time: (): bigint => {
      charge(hc.call);
      return frame().blockTime;
    },
    gas_left: (): bigint => {
      charge(hc.call);
      return BigInt(inst.hostGas.value as number);
    },
    storage_get: (kp: number, kl: number, vp: number, vcap: number): number => {
      const f = frame();
      return storageGet(f, f.contract, kp, kl, vp, vcap);
    },
    // Another contract's storage, read-only, as this call sees it (pending writes of the call tree
    // included). Nothing private is exposed: every entry is public state with a Merkle proof anyway.
    storage_get_at: (ap: number, kp: number, kl: number, vp: number, vcap: number): number => {
      const f = frame();
      charge(hc.perByte * 32);
      return storageGet(f, contractAt(ap), kp, kl, vp, vcap);
    },
    storage_set: (kp: number, kl: number, vp: number, vl: number): void => {
      const f = frame();
      writable(f);
      limit('storage key', kl >>> 0, limits.maxKeyBytes);
      limit('storage value', vl >>> 0, limits.maxValueBytes);
      charge(hc.storageWrite + hc.storageWritePerByte * ((kl >>> 0) + (vl >>> 0)));
      const [key, value] = keepTwo(kp, kl, vp, vl);
      f.journal.set(f.contract, key, value);
    },
    storage_remove: (kp: number, kl: number): number => {
      const f = frame();
      writable(f);
      limit('storage key', kl >>> 0, limits.maxKeyBytes);
      charge(hc.storageWrite + hc.storageWritePerByte * (kl >>> 0));
      const key = keep(kp, kl);
      // Removing what is not there changes nothing and leaves no deletion marker behind.
      if (f.journal.get(f.contract, key) === undefined) return 0;
      f.journal.set(f.contract, key, null);
      return 1;
    },
    storage_has: (kp: number, kl: number): number => {
      const f = frame();
      const k = keyAt(kp, kl);
      charge(hc.storageRead + hc.perByte * (kl >>> 0));
      return f.journal.getByString(f.contract, k) === undefined ? 0 : 1;
    },
    storage_next: (pp: number, pl: number, ap: number, al: number, op: number, ocap: number): number => {
      const f = frame();
      limit('storage prefix', pl >>> 0, limits.maxKeyBytes);
      limit('storage key', al >>> 0, limits.maxKeyBytes);
      charge(hc.storageIterate + hc.perByte * ((pl >>> 0) + (al >>> 0)));
      const prefix = copy(pp, pl);
      const after = al >>> 0 === 0 && ap === 0 ? undefined : copy(ap, al);
      const { entry: e, skipped } = f.journal.nextCounting(f.contract, prefix, after);
      charge(hc.storageRead * skipped);
      if (!e) return -1;
      const total = 8 + e.key.length + e.value.length;
      if (total > ocap >>> 0) return total;
      charge(hc.perByte * total);
      const out = new Uint8Array(total);
      const dv = new DataView(out.buffer);
      dv.setUint32(0, e.key.length, true);
      out.set(e.key, 4);
      dv.setUint32(4 + e.key.length, e.value.length, true);
      out.set(e.value, 8 + e.key.length);
      write(op, out);
      return total;
    },
    emit: (tp: number, tl: number, dp: number, dl: number): void => {
      const f = frame();
      writable(f);
      limit('event data', dl >>> 0, limits.maxEventDataBytes);
      limit('event topics', tl >>> 0, limits.maxTopics * (1 + limits.maxTopicBytes));
      charge(hc.emit + hc.emitPerByte * ((tl >>> 0) + (dl >>> 0)));
      if (f.eventCount.n >= limits.maxEventsPerCall) throw new VmError('VM_HOST_LIMIT', `more than ${limits.maxEventsPerCall} events in one call, nested calls included`);
      f.eventCount.n++;
      // Topics: each is one length byte followed by that many bytes. Checked before the data is read,
      // in the order that decides which error (and so which receipt) a malformed event gets.
      const raw = read(tp, tl);
      const bounds: number[] = [];
      for (let i = 0; i < raw.length;) {
        const n = raw[i]!;
        if (i + 1 + n > raw.length) throw new VmError('VM_HOST_BAD_ARGUMENT', 'event topics are not a sequence of length-prefixed byte strings');
        limit('event topic', n, limits.maxTopicBytes);
        bounds.push(i + 1, i + 1 + n);
        i += 1 + n;
      }
      if (bounds.length / 2 > limits.maxTopics) throw new VmError('VM_HOST_LIMIT', `${bounds.length / 2} event topics exceed the limit of ${limits.maxTopics}`);
      // The topics and the data kept in one allocation.
      const [kept, data] = keepTwo(tp, tl, dp, dl);
      const topics: Uint8Array[] = [];
      for (let j = 0; j < bounds.length; j += 2) topics.push(kept.subarray(bounds[j], bounds[j + 1]));
      f.events.push({ contract: f.contract, topics, data });
    },
    log: (ptr: number, len: number): void => {
      const f = frame();
      const n = Math.min(len >>> 0, limits.maxLogBytes);
      charge(hc.emit + hc.emitPerByte * n);
      f.logs.push(utf8.decode(read(ptr, n)));
    },
    sha256: hash('sha256'),
    sm3: hash('sm3'),
    ed25519_verify: (sp: number, kp: number, mp: number, ml: number): number => {
      charge(hc.ed25519Verify + hc.hashPerByte * (ml >>> 0));
      const sig = read(sp, 64);
      const key = ed25519Key(read(kp, 32));
      if (!key) return 0;
      try {
        return verify(null, read(mp, ml), key, sig) ? 1 : 0;
      } catch {
        return 0;
      }
    },
    call: (ap: number, mp: number, ml: number, ip: number, il: number, gas: bigint): number => {
      const f = frame();
      limit('call input', il >>> 0, limits.maxInputBytes);
      limit('method name', ml >>> 0, limits.maxMethodBytes);
      charge(hc.contractCall + hc.perByte * (32 + (ml >>> 0) + (il >>> 0)));
      const address = contractAt(ap);
      const method = utf8.decode(read(mp, ml));
      const input = copy(ip, il);
      const left = inst.hostGas.value as number;
      const forwarded = gas < 0n || gas > BigInt(left) ? left : Number(gas);
      const outcome = nested(f, inst, address, method, input, forwarded);
      charge(outcome.gasUsed);
      f.lastResult = outcome.ok ? outcome.output : new TextEncoder().encode(deterministicErrorText(outcome.error));
      return outcome.ok ? 0 : 1;
    },
    result_len: (): number => {
      charge(hc.call);
      return frame().lastResult.length;
    },
    result_read: (ptr: number): void => {
      const f = frame();
      charge(hc.call + hc.perByte * f.lastResult.length);
      write(ptr, f.lastResult);
    },
    revert: (cp: number, cl: number, mp: number, ml: number): void => {
      charge(hc.call);
      const code = utf8.decode(read(cp, Math.min(cl >>> 0, 128)));
      const message = utf8.decode(read(mp, Math.min(ml >>> 0, 1024)));
      throw new VmError('VM_REVERT', message || code, code);
    },
  };

  const env = {
    abort: (msg: number, file: number, line: number, column: number): void => {
      charge(hc.call);
      const text = (p: number): string => {
        // AssemblyScript strings: UTF-16LE, byte length in the u32 just before the pointer.
        try {
          if (p === 0) return '';
          const len = new DataView(read(p - 4, 4).slice().buffer).getUint32(0, true);
          const raw = read(p, Math.min(len, 2048)).slice();
          return new TextDecoder('utf-16le').decode(raw);
        } catch {
          return '?';
        }
      };
      throw new VmError('VM_ABORT', `${text(msg) || 'abort'} at ${text(file)}:${line >>> 0}:${column >>> 0}`);
    },
  };
  return { brop, env };
}
