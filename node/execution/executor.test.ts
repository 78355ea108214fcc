import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash, randomBytes } from 'node:crypto';
import { startTestChain, type Call } from '../../tooling/nodes/in-process.ts';
import { newKeyPair, type KeyPair } from '../keys/key-file.ts';
import { accountAddress, PERM, systemAddress } from '../../contracts/system/index.ts';
import { SignedTx, signTransaction } from '../tx/transaction.ts';
import { encodeArgs } from './contracts.ts';
import { AuthorisationCache, Executor } from './executor.ts';
import type { ChainParams } from '../chain/params.ts';
import type { CallRequest } from '../../vm/vm.ts';
import { RECEIPT_OK } from '../chain/block.ts';

// Charging a block's transactions with one quota.chargeAll must give exactly what one quota.charge per
// transaction gives: the same receipts and the same writes, whatever the block holds.
const chain = await startTestChain();
const { node, operator } = chain;
const partners = Array.from({ length: 3 }, () => newKeyPair());
await chain.block(...partners.map((p, i): Call => [operator, 'admission', 'admitPartner', [accountAddress(p.publicKey), `partner ${i}`, PERM.all, randomBytes(32)]]));
await chain.block(...partners.map((p): Call => [p, 'identity', 'register', [p.publicKey, null]]));
// One partner close to the end of its points: a few registrations use them up.
const poor = newKeyPair();
await chain.block([operator, 'admission', 'admitPartner', [accountAddress(poor.publicKey), 'poor', PERM.all, randomBytes(32)]]);
await chain.block([poor, 'identity', 'register', [poor.publicKey, null]], [operator, 'quota', 'setAllowance', [accountAddress(poor.publicKey), 2000n]]);

const oneByOne = new Executor(node.executor.vm, node.executor.contracts, node.executor.params, { batchCharges: false });
const batched = new Executor(node.executor.vm, node.executor.contracts, node.executor.params);
const digest = createHash('sha256').update('document').digest();
let serial = 0;

function tx(key: KeyPair, contract: string, method: string, args: unknown[], sender = accountAddress(key.publicKey)): SignedTx {
  const c = node.contracts.named(contract)!;
  return SignedTx.from(signTransaction({
    chainId: node.params.chainId, sender, nonce: BigInt(++serial), validUntilBlock: node.height + 10n,
    contract: c.address, method, args: encodeArgs(c, method, args),
  }, key.privateKey));
}

const register = (p: KeyPair, key = `doc/${++serial}`) => tx(p, 'evidence', 'register', [key, digest, '{}', null, null]);

/** Which quota methods a block's execution called, by name. */
function quotaCalls(executor: Executor, run: () => void): string[] {
  const vm = executor.vm;
  const original = vm.call;
  const seen: string[] = [];
  const quota = node.contracts.named('quota')!.address;
  vm.call = function (this: typeof vm, req: CallRequest, env) {
    if (Buffer.compare(req.contract, quota) === 0) seen.push(req.method);
    return original.call(this, req, env);
  } as typeof vm.call;
  try {
    run();
  } finally {
    vm.call = original;
  }
  return seen;
}

function both(txs: SignedTx[], o: { params?: ChainParams; fill?: boolean; auth?: () => AuthorisationCache } = {}) {
  const ctx = { height: node.height + 1n, time: BigInt(Date.now()) };
  const opts = () => ({ proposer: new Uint8Array(32), fill: o.fill, auth: o.auth?.() });
  const [fastExecutor, slowExecutor] = o.params
    ? [new Executor(node.executor.vm, node.executor.contracts, o.params), new Executor(node.executor.vm, node.executor.contracts, o.params, { batchCharges: false })]
    : [batched, oneByOne];
  let fast!: ReturnType<Executor['executeBlock']>;
  const calls = quotaCalls(fastExecutor, () => { fast = fastExecutor.executeBlock(node.committedState, ctx, txs, opts()); });
  const slow = slowExecutor.executeBlock(node.committedState, ctx, txs, opts());
  assert.equal(fast.receipts, slow.receipts);
  assert.equal(fast.writes, slow.writes);
  assert.is(fast.gasUsed, slow.gasUsed);
  return { receipts: fast.receipts, calls: calls.filter((m) => m === 'charge' || m === 'chargeAll') };
}

test('a block of ordinary transactions is charged with one chargeAll: the same receipts and writes as one charge each', () => {
  const { receipts, calls } = both(Array.from({ length: 40 }, (_, i) => register(partners[i % 3]!)));
  assert.equal(calls, ['chargeAll']);
  assert.ok(receipts.every((r) => r.status === RECEIPT_OK && r.quotaCharged > 0n));
});

test('failed calls and unauthorised keys in the batch: charged (or not) as one at a time', () => {
  const stranger = newKeyPair();
  const txs = [register(partners[0]!, 'same'), register(partners[1]!, 'same'), tx(stranger, 'evidence', 'register', ['x', digest, '{}', null, null], accountAddress(partners[2]!.publicKey)), register(partners[2]!)];
  const { receipts, calls } = both(txs);
  assert.equal(calls, ['chargeAll']);
  assert.equal(receipts.map((r) => r.error.split(':')[0]), ['', receipts[1]!.error.split(':')[0], 'TX_UNAUTHORISED_KEY', '']);
  assert.ok(receipts[1]!.status !== RECEIPT_OK && receipts[1]!.quotaCharged > 0n, 'a failed call is still charged');
  assert.is(receipts[2]!.quotaCharged, 0n);
});

test('a call that touches quota storage: the ones before it charged together, the rest one at a time', () => {
  const txs = [register(partners[0]!), register(partners[1]!), tx(operator, 'quota', 'setAllowance', [accountAddress(partners[1]!.publicKey), 5n]), register(partners[1]!), register(partners[0]!)];
  const { receipts, calls } = both(txs);
  // The one that falls short is charged twice: with its effects, then without them.
  assert.equal(calls, ['chargeAll', 'charge', 'charge', 'charge', 'charge']);
  assert.equal(receipts.map((r) => r.error), ['', '', '', 'TX_INSUFFICIENT_QUOTA', '']);
});

test('a charge that falls short: the calls before it stand, charged together; from it on, one at a time', () => {
  const short = both([register(partners[0]!), ...Array.from({ length: 12 }, () => register(poor)), register(partners[1]!)]);
  // chargeAll over all of them finds the short one; again over those before it; then one at a time.
  assert.equal(short.calls.slice(0, 2), ['chargeAll', 'chargeAll']);
  assert.ok(short.calls.slice(2).every((m) => m === 'charge') && short.calls.length > 3, short.calls.join());
  assert.ok(short.receipts.some((r) => r.error === 'TX_INSUFFICIENT_QUOTA'));
  assert.is(short.receipts.at(-1)!.status, RECEIPT_OK);
});

test('a charge that reads what a call wrote (a partner\'s role): the whole block one at a time', () => {
  const roles = both([register(partners[0]!), tx(operator, 'admission', 'setPermissions', [accountAddress(partners[0]!.publicKey), PERM.evidence]), register(partners[0]!)]);
  assert.equal(roles.calls, ['chargeAll', 'charge', 'charge', 'charge']);
  assert.ok(roles.receipts.every((r) => r.status === RECEIPT_OK));
});

test('property: random blocks give the same receipts and writes charged together as one at a time (fill and gas limits, a warm authorisation cache)', () => {
  let seed = 7;
  const rand = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const paths = new Set<string>();
  const warm = new AuthorisationCache();
  for (let round = 0; round < 24; round++) {
    const txs: SignedTx[] = [];
    for (let i = 0, n = 5 + rand(50); i < n; i++) {
      const p = partners[rand(3)]!;
      switch (rand(14)) {
        case 0: txs.push(register(poor)); break;
        case 1: txs.push(register(p, `dup/${rand(3)}`)); break;
        case 2: { const k = newKeyPair(); txs.push(tx(k, 'identity', 'register', [k.publicKey, null])); break; }
        case 3: if (rand(4) === 0) txs.push(tx(operator, 'quota', 'setAllowance', [accountAddress(p.publicKey), BigInt(rand(2) * rand(3000))])); break;
        case 4: if (rand(4) === 0) txs.push(tx(operator, 'admission', 'setPermissions', [accountAddress(p.publicKey), PERM.all])); break;
        case 5: if (rand(4) === 0) txs.push(tx(p, 'quota', 'balanceOf', [accountAddress(p.publicKey)])); break;
        case 6: if (rand(6) === 0) txs.push(tx(operator, 'quota', 'setSchedule', [{ base: BigInt(50 + rand(100)), perByte: 1n, perKiloGas: 1n, periodBlocks: BigInt(1 + rand(3)), operatorAllowance: 100_000_000n, partnerAllowance: 10_000_000n, regulatorAllowance: 1_000_000n, userAllowance: 100_000n }])); break;
        case 7: txs.push(tx(p, 'quota', 'charge', [accountAddress(p.publicKey), 1n, 1n])); break; // NOT_SYSTEM
        case 8: { const stranger = newKeyPair(); txs.push(tx(stranger, 'evidence', 'register', ['x', digest, '{}', null, null], accountAddress(p.publicKey))); break; }
        default: txs.push(register(p));
      }
    }
    const { calls } = both(txs);
    paths.add(calls.length === 0 ? 'none' : calls[0] === 'charge' ? 'one at a time' : calls.length === 1 ? 'together' : 'together, then one at a time');
    const tight = { ...node.executor.params, maxTxGas: 50_000_000, maxBlockGas: 50_000_000 + 1_000_000 * (1 + rand(20)) };
    both(txs, { params: tight, fill: true });
    both(txs, { params: tight, fill: false });
    both(txs, { auth: () => warm.copy() });
  }
  assert.ok(paths.has('together') && paths.has('together, then one at a time'), [...paths].join());
});

test('a block larger than one chargeAll call takes (2,048 requests): charged in chunks, the same result', () => {
  const txs = Array.from({ length: 2100 }, (_, i) => register(partners[i % 3]!));
  const { calls } = both(txs);
  assert.equal(calls, ['chargeAll', 'chargeAll']);
});

test('the authorisation cache answers per (sender, key); a copy goes its own way; a write to identity clears it', () => {
  const [a, b] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
  const key = new Uint8Array(32).fill(9);
  const cache = new AuthorisationCache();
  assert.is(cache.lookup(a, key), undefined);
  cache.remember(a, key, true);
  assert.is(cache.lookup(a, key), true);
  assert.is(cache.lookup(b, key), undefined); // the same key for another account is another question
  const copy = cache.copy();
  copy.remember(b, key, false);
  assert.is(copy.lookup(b, key), false);
  assert.is(cache.lookup(b, key), undefined);
  a.fill(3); // the cache kept its own copy of the sender
  assert.is(cache.lookup(new Uint8Array(32).fill(1), key), true);
  copy.forgetIfTouched([{ contract: systemAddress('identity'), key: new Uint8Array(1), value: null }]);
  assert.is(copy.lookup(new Uint8Array(32).fill(1), key), undefined);
  assert.is(cache.lookup(new Uint8Array(32).fill(1), key), true);
});

test.after(() => chain.close());
test.run();
