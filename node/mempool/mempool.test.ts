import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Mempool } from './mempool.ts';
import { SignedTx, signTransaction } from '../tx/transaction.ts';
import { TxError } from '../tx/errors.ts';
import { generateEd25519 } from '../crypto/ed25519.ts';

const key = generateEd25519();
let nonce = 0n;
function tx(sender: number, validUntilBlock = 100n, argBytes = 10): SignedTx {
  return SignedTx.from(signTransaction({
    chainId: 'c', sender: new Uint8Array(32).fill(sender), nonce: nonce++, validUntilBlock,
    contract: new Uint8Array(32), method: 'm', args: new Uint8Array(argBytes),
  }, key.privateKey));
}

function code(fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as TxError).code;
  }
  return undefined;
}

test('full by count, by bytes or per sender: BUSY at once, nothing dropped', () => {
  const byCount = new Mempool({ maxTxs: 3 });
  for (let i = 0; i < 3; i++) byCount.add(tx(i));
  assert.is(code(() => byCount.add(tx(9))), 'BUSY');
  assert.is(byCount.size, 3);
  const t = tx(1);
  const byBytes = new Mempool({ maxBytes: t.bytes.length * 2 });
  byBytes.add(t);
  byBytes.add(tx(2));
  assert.is(code(() => byBytes.add(tx(3))), 'BUSY');
  const perSender = new Mempool({ maxPerSender: 2 });
  perSender.add(tx(1));
  perSender.add(tx(1));
  assert.is(code(() => perSender.add(tx(1))), 'BUSY');
  const other = tx(2);
  assert.is(code(() => perSender.add(other)), undefined); // another sender is still welcome
  assert.is(code(() => perSender.add(other)), 'TX_DUPLICATE');
});

test('fresh keys cannot fill the pool: newcomers (self-registrations) one per key and maxNewcomerTxs in all', () => {
  const pool = new Mempool({ maxTxs: 100, maxNewcomerTxs: 3 });
  for (let s = 10; s < 13; s++) pool.add(tx(s), { newcomer: true });
  assert.is(code(() => pool.add(tx(13), { newcomer: true })), 'BUSY', 'the newcomers\' share is taken');
  assert.is(code(() => pool.add(tx(10), { newcomer: true })), 'BUSY', 'one at a time per new key');
  assert.is(code(() => pool.add(tx(50))), undefined, 'established senders are not held up');
  assert.is(pool.size, 4);
  // Committed (or expired), a newcomer frees its place.
  pool.remove([pool.ofSender(new Uint8Array(32).fill(10))[0]!.hashHex]);
  assert.is(code(() => pool.add(tx(13), { newcomer: true })), undefined);
  assert.is(code(() => pool.add(tx(14), { newcomer: true })), 'BUSY');
  pool.evictExpired(1_000n);
  assert.is(code(() => pool.add(tx(14), { newcomer: true })), undefined, 'eviction frees places too');
});

test('blocks take senders in turn: a flooding sender cannot starve the others', () => {
  const pool = new Mempool();
  const flood = Array.from({ length: 100 }, () => tx(1));
  for (const t of flood) pool.add(t);
  const a = tx(2), b = tx(3);
  pool.add(a);
  pool.add(b);
  const block = pool.reap(4, Number.MAX_SAFE_INTEGER);
  assert.equal(block.map((t) => t.hashHex), [flood[0]!.hashHex, a.hashHex, b.hashHex, flood[1]!.hashHex]);
  // Each sender's transactions keep their order.
  const all = pool.reap(1000, Number.MAX_SAFE_INTEGER).filter((t) => t.tx.sender[0] === 1);
  assert.equal(all.map((t) => t.hashHex), flood.map((t) => t.hashHex));
});

test('reap respects the byte limit; remove and expiry eviction', () => {
  const pool = new Mempool();
  const small = tx(1, 5n), big = tx(2, 10n, 5000), later = tx(3, 10n);
  for (const t of [small, big, later]) pool.add(t);
  const block = pool.reap(10, small.bytes.length + later.bytes.length);
  assert.equal(block.map((t) => t.hashHex).sort(), [small.hashHex, later.hashHex].sort());
  pool.remove([later.hashHex]);
  assert.is(pool.size, 2);
  const expired = pool.evictExpired(5n);
  assert.equal(expired.map((t) => t.hashHex), [small.hashHex]);
  assert.is(pool.size, 1);
  assert.is(pool.totalBytes, big.bytes.length);
});

test('the pool moves its transactions out of decoding slabs it holds little of, and leaves dense ones alone', () => {
  const pool = new Mempool();
  // Decoded one after another, ~250 to a 64 KiB slab: a slab in the middle is full (the first may
  // have been begun by earlier decoding in this process, the last is still being filled).
  const stxs = Array.from({ length: 800 }, (_, i) => SignedTx.decode(tx(i % 200).bytes));
  const first = stxs[300]!.bytes.buffer;
  const inFirst = stxs.filter((t) => t.bytes.buffer === first);
  assert.ok(inFirst.length > 200 && inFirst.length < 300);
  for (const t of inFirst) pool.add(t);
  pool.evictExpired(1n);
  assert.ok(inFirst.every((t) => t.bytes.buffer === first), 'a slab the pool holds most of stays');
  // Most of them leave (committed, say): the few left would keep the whole slab alive.
  const kept = inFirst.slice(-10);
  const before = kept.map((t) => ({ bytes: t.bytes.slice(), hash: t.hash.slice(), hashHex: t.hashHex }));
  pool.remove(inFirst.slice(0, -10).map((t) => t.hashHex));
  pool.evictExpired(2n);
  for (const [i, t] of kept.entries()) {
    assert.is(t.bytes.buffer.byteLength, t.bytes.length + 32, 'moved to memory of its own');
    assert.equal({ bytes: t.bytes, hash: t.hash, hashHex: t.hashHex }, before[i]);
  }
  assert.equal(pool.reap(100, 1e6).map((t) => t.hashHex), kept.map((t) => t.hashHex));
  // The slab being filled is not settled, however little of it the pool holds.
  const last = stxs[stxs.length - 1]!;
  pool.add(last);
  pool.evictExpired(3n);
  assert.is(last.bytes.buffer, stxs[stxs.length - 2]!.bytes.buffer);
});

test.run();
