/**
 * Transaction signature checks (the chain's cofactored rule, ed25519-cofactored.ts) spread over worker
 * threads (SPEC C4: parallel across cores). Callers ask for one
 * check at a time; checks asked for in the same turn of the event loop travel to a worker together,
 * so the message-passing cost is paid per batch, not per signature.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { verifyEd25519CofactoredAll, type SignatureCheck } from './ed25519-cofactored.ts';

export type { SignatureCheck };

/** Checks asked for together (verifyAll): one promise for all of them, not one each. */
interface Group { results: boolean[]; left: number; resolve: (ok: boolean[]) => void; reject: (e: Error) => void; failed: boolean }

interface Pending { check: SignatureCheck; group: Group; index: number }

function settle(g: Group, index: number, ok: boolean): void {
  g.results[index] = ok;
  if (--g.left === 0 && !g.failed) g.resolve(g.results);
}

function fail(g: Group, e: Error): void {
  if (g.failed) return;
  g.failed = true;
  g.reject(e);
}

/**
 * A batch at a worker: what its checks were (the packed bytes, a copy of what the worker got: a crashed
 * worker's checks are done again from them) and whose they are. No per-check object stays while the
 * workers are busy: at full load thousands of checks wait, and each object would outlive young-generation
 * collections.
 */
interface Sent { packed: Uint8Array; groups: Group[]; indices: number[] }

interface WorkerSlot { worker: Worker; inFlight: Map<number, Sent>; load: number }

const MAX_BATCH = 256;

/**
 * A batch as one buffer (transferred, not cloned): per check a u32 key length, u32 signature length
 * and u32 message length (little-endian), then the three. Cloning hundreds of small arrays costs more
 * than the copy.
 */
function packChecks(batch: readonly Pending[]): Uint8Array {
  let n = 0;
  for (const { check: c } of batch) n += 12 + c.publicKey.length + c.signature.length + c.message.length;
  const out = new Uint8Array(n);
  const dv = new DataView(out.buffer);
  let at = 0;
  for (const { check: c } of batch) {
    dv.setUint32(at, c.publicKey.length, true);
    dv.setUint32(at + 4, c.signature.length, true);
    dv.setUint32(at + 8, c.message.length, true);
    at += 12;
    out.set(c.publicKey, at);
    out.set(c.signature, at + c.publicKey.length);
    out.set(c.message, at + c.publicKey.length + c.signature.length);
    at += c.publicKey.length + c.signature.length + c.message.length;
  }
  return out;
}

export function unpackChecks(packed: Uint8Array): SignatureCheck[] {
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.length);
  const out: SignatureCheck[] = [];
  for (let at = 0; at < packed.length;) {
    const kl = dv.getUint32(at, true), sl = dv.getUint32(at + 4, true), ml = dv.getUint32(at + 8, true);
    at += 12;
    const publicKey = packed.subarray(at, at + kl);
    const signature = packed.subarray(at + kl, at + kl + sl);
    const message = packed.subarray(at + kl + sl, at + kl + sl + ml);
    at += kl + sl + ml;
    out.push({ publicKey, signature, message });
  }
  return out;
}

export class SignatureVerifier {
  private readonly slots: WorkerSlot[] = [];
  private queue: Pending[] = [];
  private flushScheduled = false;
  private nextBatch = 1;
  private closed = false;

  /** `workers: 0` checks inline on the calling thread (tests, tiny deployments). */
  constructor(opts: { workers?: number } = {}) {
    const n = opts.workers ?? Math.max(1, availableParallelism());
    for (let i = 0; i < n; i++) this.slots.push(this.spawn());
  }

  private spawn(): WorkerSlot {
    const worker = new Worker(new URL('./verify-worker.ts', import.meta.url));
    worker.unref();
    const slot: WorkerSlot = { worker, inFlight: new Map(), load: 0 };
    worker.on('message', (m: { id: number; results: Uint8Array }) => {
      const sent = slot.inFlight.get(m.id);
      if (!sent) return;
      slot.inFlight.delete(m.id);
      slot.load -= sent.groups.length;
      sent.groups.forEach((g, i) => settle(g, sent.indices[i]!, m.results[i] === 1));
    });
    worker.on('error', (e) => this.failSlot(slot, e));
    worker.on('exit', (code) => { if (!this.closed) this.failSlot(slot, new Error(`signature worker exited with code ${code}`)); });
    return slot;
  }

  /** A crashed worker's checks are done inline, and the worker is replaced: a check is never lost. */
  private failSlot(slot: WorkerSlot, _e: Error): void {
    const i = this.slots.indexOf(slot);
    if (i < 0) return;
    for (const sent of slot.inFlight.values()) {
      const results = verifyEd25519CofactoredAll(unpackChecks(sent.packed));
      sent.groups.forEach((g, i) => settle(g, sent.indices[i]!, results[i] === 1));
    }
    slot.inFlight.clear();
    this.slots[i] = this.spawn();
  }

  verify(check: SignatureCheck): Promise<boolean> {
    return this.verifyAll([check]).then((r) => r[0]!);
  }

  /** Each check's outcome, in order: one promise for the lot (a batch of transactions from one request, a block's). */
  verifyAll(checks: readonly SignatureCheck[]): Promise<boolean[]> {
    if (checks.length === 0) return Promise.resolve([]);
    if (this.closed) return Promise.reject(new Error('the signature verifier is closed'));
    if (this.slots.length === 0) return Promise.resolve(Array.from(verifyEd25519CofactoredAll(checks), (r) => r === 1));
    return new Promise((resolve, reject) => {
      const group: Group = { results: new Array<boolean>(checks.length), left: checks.length, resolve, reject, failed: false };
      for (let i = 0; i < checks.length; i++) {
        this.queue.push({ check: checks[i]!, group, index: i });
        if (this.queue.length >= MAX_BATCH * this.slots.length) this.flush();
      }
      if (this.queue.length > 0 && !this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const queue = this.queue;
    this.queue = [];
    // Even shares, so that one batch does not wait for a busy worker while another idles.
    const per = Math.min(MAX_BATCH, Math.ceil(queue.length / this.slots.length));
    for (let i = 0; i < queue.length; i += per) {
      const batch = queue.slice(i, i + per);
      const slot = this.slots.reduce((a, b) => (b.load < a.load ? b : a));
      const id = this.nextBatch++;
      const packed = packChecks(batch);
      // This side keeps a copy for a crashed worker's checks; the worker gets the buffer itself
      // (transferring it costs less than cloning it into the message).
      slot.inFlight.set(id, { packed: packed.slice(), groups: batch.map((p) => p.group), indices: batch.map((p) => p.index) });
      slot.load += batch.length;
      slot.worker.postMessage({ id, packed }, [packed.buffer as ArrayBuffer]);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const closedError = () => new Error('the signature verifier is closed');
    for (const p of this.queue) fail(p.group, closedError());
    this.queue = [];
    for (const s of this.slots) for (const sent of s.inFlight.values()) for (const g of sent.groups) fail(g, closedError());
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
