import { test } from 'uvu';
import { keyPairSigner } from './keys/signer.ts';
import * as assert from 'uvu/assert';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { Level } from 'level';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { accountAddress, PERM, systemAddress } from '../contracts/system/index.ts';
import { ChainNode, stateKey } from './node.ts';
import { SoloConsensus } from './consensus/solo.ts';
import { PoolLog } from './store/pool-log.ts';
import { initHome, loadHome, type InitOptions } from './home.ts';
import { signTransaction, encodeTransaction } from './tx/transaction.ts';
import { TxError } from './tx/errors.ts';
import { encodeArgs, decodeResult } from './execution/contracts.ts';
import { newKeyPair, readKeyFile, type KeyPair } from './keys/key-file.ts';
import { verifyCommit } from './chain/commit.ts';
import { headerHash } from './chain/block.ts';
import { verifyProof } from './state/index.ts';
import { RECEIPT_OK } from './chain/block.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'brop-node-'));
  dirs.push(d);
  return d;
}

async function setup(params?: InitOptions['params'], quotaSchedule?: InitOptions['quotaSchedule']) {
  const dir = tempDir();
  const init = await initHome(dir, { chainId: 'brop-test', params, quotaSchedule });
  const home = loadHome(dir);
  const node = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  const consensus = new SoloConsensus(node, keyPairSigner(home.validatorKey!), { onError: (e) => { throw e; } });
  const operator = readKeyFile(init.operatorKey);
  return { dir, home, node, consensus, operator };
}

function tx(node: ChainNode, key: KeyPair, contract: string, method: string, args: unknown[], over: { validUntilBlock?: bigint; chainId?: string } = {}) {
  const c = node.contracts.named(contract)!;
  return encodeTransaction(signTransaction({
    chainId: over.chainId ?? node.params.chainId, sender: accountAddress(key.publicKey), nonce: BigInt(`0x${randomBytes(8).toString('hex')}`),
    validUntilBlock: over.validUntilBlock ?? node.height + 10n, contract: c.address, method, args: encodeArgs(c, method, args),
  }, key.privateKey));
}

async function refused(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return e instanceof TxError ? e.code : `untyped ${(e as Error).message}`;
  }
  return undefined;
}

async function failure(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped ${(e as Error).message}`;
  }
  return undefined;
}

test('genesis: block 0 with the system contracts, the operator set and its account registered', async () => {
  const { node, operator } = await setup();
  try {
    assert.is(node.height, 0n);
    const admission = node.contracts.named('admission')!;
    const role = node.call(admission.address, 'roleOf', encodeArgs(admission, 'roleOf', [accountAddress(operator.publicKey)]));
    assert.is(decodeResult(admission, 'roleOf', role.output), 1);
    const identity = node.contracts.named('identity')!;
    const ok = node.call(identity.address, 'isAuthorisedKey', encodeArgs(identity, 'isAuthorisedKey', [accountAddress(operator.publicKey), operator.publicKey]));
    assert.is(decodeResult(identity, 'isAuthorisedKey', ok.output), true);
  } finally {
    await node.close();
  }
});

test('a transaction goes pending, then committed with its receipt; blocks carry a valid commit', async () => {
  const { node, consensus, operator } = await setup();
  try {
    const partner = newKeyPair();
    const admit = await node.submit(tx(node, operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Partner A', PERM.all, randomBytes(32)]));
    assert.is(node.txStatus(admit.hash).status, 'pending');
    await consensus.produce();
    const st = node.txStatus(admit.hash);
    assert.is(st.status, 'committed');
    if (st.status !== 'committed') return;
    assert.is(st.receipt.status, RECEIPT_OK, st.receipt.error);
    assert.ok(st.receipt.quotaCharged > 0n);
    assert.ok(st.receipt.events.length > 0);
    const b = node.block(1n)!;
    verifyCommit(b.block.header, b.commit, node.validators);
    assert.equal(b.hash, headerHash(b.block.header));
    assert.equal(b.block.header.prevHash, node.block(0n)!.hash);
  } finally {
    await node.close();
  }
});

test('admission refuses with typed reasons: wrong chain, expired, too far, duplicate, bad signature, unauthorised key, garbage', async () => {
  const { node, consensus, operator } = await setup();
  try {
    await consensus.produce();
    const good = tx(node, operator, 'admission', 'roleOf', [new Uint8Array(32)]);
    assert.is(await refused(node.submit(tx(node, operator, 'admission', 'roleOf', [new Uint8Array(32)], { chainId: 'other' }))), 'TX_WRONG_CHAIN');
    // A byte order mark before this chain's id is another chain id (it decoded to this one until session 17).
    assert.is(await refused(node.submit(tx(node, operator, 'admission', 'roleOf', [new Uint8Array(32)], { chainId: '\uFEFF' + node.params.chainId }))), 'TX_WRONG_CHAIN');
    assert.is(await refused(node.submit(tx(node, operator, 'admission', 'roleOf', [new Uint8Array(32)], { validUntilBlock: node.height }))), 'TX_EXPIRED');
    assert.is(await refused(node.submit(tx(node, operator, 'admission', 'roleOf', [new Uint8Array(32)], { validUntilBlock: node.height + 101n }))), 'TX_VALIDITY_TOO_LONG');
    await node.submit(good);
    assert.is(await refused(node.submit(good)), 'TX_DUPLICATE');
    const bad = good.slice();
    bad[bad.length - 1]! ^= 1;
    assert.is(await refused(node.submit(bad)), 'TX_BAD_SIGNATURE');
    assert.is(await refused(node.submit(tx(node, newKeyPair(), 'admission', 'roleOf', [new Uint8Array(32)]))), 'TX_UNAUTHORISED_KEY');
    assert.is(await refused(node.submit(randomBytes(200))), 'TX_MALFORMED');
    await consensus.produce();
    assert.is(await refused(node.submit(good)), 'TX_DUPLICATE'); // committed now: still a duplicate
  } finally {
    await node.close();
  }
});

test('a signature is checked once: a transaction refused for another reason and sent again is not checked again', async () => {
  const { node, consensus } = await setup();
  // Counts the signature checks admission hands to the verifier.
  const verifier = (node as unknown as { verifier: { verifyAll(c: readonly unknown[]): Promise<boolean[]> } }).verifier;
  const verifyAll = verifier.verifyAll.bind(verifier);
  let checked = 0;
  verifier.verifyAll = (c) => { checked += c.length; return verifyAll(c); };
  try {
    const user = newKeyPair();
    await node.submit(tx(node, user, 'identity', 'register', [user.publicKey, 'alice']));
    // A newcomer has one transaction pending at a time: the second is refused (BUSY) after its check.
    const second = tx(node, user, 'identity', 'register', [user.publicKey, 'again']);
    const code = (e: TxError) => e.code;
    assert.is(await node.submit(second).then(() => 'pending', code), 'BUSY');
    assert.is(checked, 2);
    assert.is(await node.submit(second).then(() => 'pending', code), 'BUSY');
    const [inBatch] = await node.submitAll([second]);
    assert.is(inBatch instanceof TxError && inBatch.code, 'BUSY');
    assert.is(checked, 2, 'sent again, it is not checked again');
    await consensus.produce();
    // Its slot is free now: pooled without a check, and the first is in the committed window.
    assert.ok(await node.submit(second));
    assert.is(checked, 2);
  } finally {
    await node.close();
  }
});

test('a new key registers itself; an unanswered transaction ends as expired, never unknown', async () => {
  const { node, consensus } = await setup();
  try {
    const user = newKeyPair();
    const reg = await node.submit(tx(node, user, 'identity', 'register', [user.publicKey, 'alice']));
    // A key no identity lists is a newcomer: one transaction at a time until it is registered.
    assert.is(await node.submit(tx(node, user, 'identity', 'register', [user.publicKey, 'again'])).then(() => 'pending', (e: TxError) => e.code), 'BUSY');
    await consensus.produce();
    const st = node.txStatus(reg.hash);
    assert.is(st.status, 'committed');
    // Expiry: a transaction held back (pool drained by hand) is reported expired once the chain passes it.
    const late = await node.submit(tx(node, user, 'identity', 'addKey', [randomBytes(32)], { validUntilBlock: node.height + 1n }));
    node.mempool.remove([late.hashHex]);
    await consensus.produce();
    await consensus.produce();
    assert.is(node.txStatus(late.hash).status, 'unknown'); // removed by hand, never committed nor evicted
    const late2 = await node.submit(tx(node, user, 'identity', 'addKey', [randomBytes(32)], { validUntilBlock: node.height + 1n }));
    const held = node.mempool.reap.bind(node.mempool);
    node.mempool.reap = () => []; // the proposer leaves it out
    await consensus.produce();
    node.mempool.reap = held;
    assert.is(node.txStatus(late2.hash).status, 'expired');
  } finally {
    await node.close();
  }
});

test('restart: same head, same state, pending transactions back in the pool, state proofs at old heights', async () => {
  const { home, node, consensus, operator } = await setup();
  const partner = newKeyPair();
  const admitBytes = tx(node, operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Partner B', PERM.all, randomBytes(32)]);
  await node.submit(admitBytes);
  await consensus.produce();
  const pending = await node.submit(tx(node, operator, 'admission', 'roleOf', [new Uint8Array(32)]));
  const head = node.head;
  await node.close();
  const again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    assert.is(again.height, head.header.height);
    assert.equal(again.head.hash, head.hash);
    assert.is(again.txStatus(pending.hash).status, 'pending');
    assert.is(await refused(again.submit(admitBytes)), 'TX_DUPLICATE'); // the duplicate window survives the restart
    // The partner's record in admission's storage ("p" map: 1-byte prefix length, prefix, address) is provable.
    const admission = systemAddress('admission');
    const key = new Uint8Array([1, 0x70, ...accountAddress(partner.publicKey)]);
    const p = again.stateProof(admission, key);
    assert.ok(p.value !== null);
    assert.equal(verifyProof(p.header.stateRoot, stateKey(admission, key), p.proof), p.value);
    // At genesis the partner did not exist: a proof of absence.
    const p0 = again.stateProof(admission, key, 0n);
    assert.is(p0.value, null);
    assert.is(verifyProof(p0.header.stateRoot, stateKey(admission, key), p0.proof), null);
  } finally {
    await again.close();
  }
});

test('the block gas limit: the proposer stops filling a block before it could pass it; the rest wait', async () => {
  const { node, consensus, operator } = await setup({ maxBlockGas: 150_000, maxTxGas: 100_000 });
  try {
    const sent = [];
    for (let i = 0; i < 20; i++) sent.push(await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)])));
    await consensus.produce();
    const first = node.block(1n)!;
    assert.ok(first.block.txs.length > 0 && first.block.txs.length < 20, `${first.block.txs.length} transactions in the first block`);
    const gas = first.receipts.reduce((s, r) => s + r.gasUsed, 0n);
    assert.ok(gas <= 150_000n, `block gas ${gas}`);
    while (node.mempool.size > 0) await consensus.produce();
    // Each is found where it stands: its block's height and hash, its place in the block, its receipt.
    for (const t of sent) {
      const s = node.txStatus(t.hash);
      assert.is(s.status, 'committed');
      if (s.status !== 'committed') continue;
      const b = node.block(s.height)!;
      assert.equal([b.hash, b.block.txs[s.index], s.receipt.txHash], [s.blockHash, t.bytes, t.hash]);
    }
  } finally {
    await node.close();
  }
});

test('a plan executed at another node gives the proposer\'s block, cut by the gas limit at the same place; bad plans are refused', async () => {
  const { home, node, operator } = await setup({ maxBlockGas: 150_000, maxTxGas: 100_000 });
  const other = await ChainNode.open({ dataDir: join(tempDir(), 'data'), genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    for (let i = 0; i < 20; i++) {
      const t = tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]);
      await node.submit(t);
      await other.submit(t);
    }
    const proposer = accountAddress(home.validatorKey!.publicKey);
    const plan = node.planBlock(proposer);
    assert.is(plan.txs.length, 20);
    const made = node.makeBlock(plan);
    assert.ok(made.txs.length > 0 && made.txs.length < 20, `${made.txs.length} of the 20 planned fit the gas limit`);
    const shape = { height: plan.height, time: plan.time, proposer, txHashes: plan.txs.map((t) => t.hash), lastCommit: plan.lastCommit };
    const mine = await other.checkPlan(shape);
    assert.equal(mine.hash, made.hash);
    assert.equal(mine.block, made.block);
    assert.equal((await other.checkProposal(made.block)).hash, made.hash, 'the proposal checked as any gives the same block');
    // A transaction this pool lacks; one listed twice; a carried commit not the head's; a time too far
    // ahead; a proposer that is not a validator.
    assert.is(await failure(other.checkPlan({ ...shape, txHashes: [...shape.txHashes, new Uint8Array(randomBytes(32))] })), 'NOT_FOUND');
    assert.is(await failure(other.checkPlan({ ...shape, txHashes: [shape.txHashes[0]!, ...shape.txHashes] })), 'BLOCK_INVALID');
    assert.is(await failure(other.checkPlan({ ...shape, lastCommit: { ...shape.lastCommit, blockHash: new Uint8Array(32) } })), 'BLOCK_INVALID');
    assert.is(await failure(other.checkPlan({ ...shape, time: shape.time + 60_000n })), 'BLOCK_INVALID');
    assert.is(await failure(other.checkPlan({ ...shape, proposer: accountAddress(operator.publicKey) })), 'BLOCK_INVALID');
  } finally {
    await other.close();
    await node.close();
  }
});

test('a node shutting down while a batch\'s signatures are checked answers NODE_CLOSED for those, and keeps the other entries\' own refusals', async () => {
  const { home, operator } = await setup();
  const node = await ChainNode.open({ dataDir: join(tempDir(), 'data'), genesis: home.genesis, contracts: home.contracts, verifierWorkers: 2 });
  const good = tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]);
  const pending = node.submitAll([good, good, randomBytes(50), tx(node, operator, 'admission', 'roleOf', [randomBytes(32)], { validUntilBlock: 0n })]);
  await node.close();
  const out = await pending;
  assert.equal(out.map((r) => (r instanceof Error ? (r as { code?: string }).code : 'ok')), ['NODE_CLOSED', 'TX_DUPLICATE', 'TX_MALFORMED', 'TX_EXPIRED']);
  assert.is(node.mempool.size, 0);
});

test('a second node checks and commits the first one\'s blocks: same state root; a tampered block is BLOCK_INVALID', async () => {
  const { home, node, consensus, operator } = await setup();
  const other = await ChainNode.open({ dataDir: join(tempDir(), 'data'), genesis: home.genesis, contracts: home.contracts, verifierWorkers: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      const partner = newKeyPair();
      await node.submit(tx(node, operator, 'admission', 'admitPartner', [accountAddress(partner.publicKey), `P${i}`, PERM.all, randomBytes(32)]));
      await node.submit(tx(node, partner, 'identity', 'register', [partner.publicKey, null]));
      await consensus.produce();
      const made = node.block(node.height)!;
      // Tampering: a changed state root, a dropped transaction, a forged signature.
      const badRoot = { ...made.block, header: { ...made.block.header, stateRoot: new Uint8Array(32) } };
      assert.is(await failure(other.checkProposal(badRoot)), 'BLOCK_INVALID');
      const dropped = { ...made.block, txs: made.block.txs.slice(1) };
      assert.is(await failure(other.checkProposal(dropped)), 'BLOCK_INVALID');
      // Transactions other than the header's txRoot names (here reordered) are refused before they run.
      const reordered = { ...made.block, txs: [...made.block.txs].reverse() };
      assert.match(await other.checkProposal(reordered).then(() => '', (e: Error) => e.message), /not the ones the header names/);
      const forged = made.block.txs[0]!.slice();
      forged[forged.length - 1]! ^= 1;
      assert.is(await failure(other.checkProposal({ ...made.block, txs: [forged, ...made.block.txs.slice(1)] })), 'BLOCK_INVALID');
      // The parent's commit it carries: another block's, or (past block 1) without its signatures.
      assert.is(await failure(other.checkProposal({ ...made.block, lastCommit: { ...made.block.lastCommit, blockHash: new Uint8Array(32) } })), 'BLOCK_INVALID');
      if (i > 0) assert.is(await failure(other.checkProposal({ ...made.block, lastCommit: { ...made.block.lastCommit, signatures: [] } })), 'BLOCK_INVALID');
      const checked = await other.checkProposal(made.block);
      await other.commitBlock(checked, made.commit);
      assert.equal(other.head.hash, node.head.hash);
    }
    assert.ok(other.checkIntegrity().ok);
  } finally {
    await other.close();
    await node.close();
  }
});

test('a transaction that a block commits while its signature is checked is a duplicate, not pending again', async () => {
  const { home, node, consensus, operator } = await setup();
  const other = await ChainNode.open({ dataDir: join(tempDir(), 'data'), genesis: home.genesis, contracts: home.contracts, verifierWorkers: 1 });
  try {
    const bytes = tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]);
    await node.submit(bytes);
    await consensus.produce();
    const made = node.block(node.height)!;
    const checked = await other.checkProposal(made.block);
    // The other node: admission of the same bytes waits for its signature step; the block commits meanwhile.
    const admitting = other.submitAll([bytes]);
    const committing = other.commitBlock(checked, made.commit);
    const [outcome] = await admitting;
    await committing;
    assert.is((outcome as TxError).code, 'TX_DUPLICATE');
    assert.is(other.mempool.size, 0);
    assert.is(await refused(other.submit(bytes)), 'TX_DUPLICATE');
  } finally {
    await other.close();
    await node.close();
  }
});

test('quota at admission counts the sender\'s pending transactions; the refusal is TX_INSUFFICIENT_QUOTA', async () => {
  const schedule = { base: 1000, perByte: 0, perKiloGas: 0, periodBlocks: 1000, operatorAllowance: 10 ** 9, partnerAllowance: 0, regulatorAllowance: 0, userAllowance: 3500 };
  const { node, consensus } = await setup(undefined, schedule);
  try {
    const user = newKeyPair();
    await node.submit(tx(node, user, 'identity', 'register', [user.publicKey, null]));
    await consensus.produce(); // 1000 of 3500 points used
    await node.submit(tx(node, user, 'identity', 'addKey', [randomBytes(32)]));
    await node.submit(tx(node, user, 'identity', 'addKey', [randomBytes(32)]));
    // Each alone would be affordable; with the two pending, a third is not.
    assert.is(await refused(node.submit(tx(node, user, 'identity', 'addKey', [randomBytes(32)]))), 'TX_INSUFFICIENT_QUOTA');
    await consensus.produce();
    assert.is(await refused(node.submit(tx(node, user, 'identity', 'addKey', [randomBytes(32)]))), 'TX_INSUFFICIENT_QUOTA');
  } finally {
    await node.close();
  }
});

test('the same transaction sent twice at once: one is pending, the other TX_DUPLICATE; it is committed once', async () => {
  const { node, consensus, operator } = await setup();
  try {
    const bytes = tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]);
    const results = await Promise.allSettled([node.submit(bytes), node.submit(bytes)]);
    assert.equal(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    await consensus.produce();
    await consensus.produce();
    const all = [1n, 2n].flatMap((h) => node.block(h)!.block.txs);
    assert.is(all.length, 1);
  } finally {
    await node.close();
  }
});

test('a sender who cannot pay in full: its effects are dropped, what it has left is charged, the gas counts, its next ones in the block do not run', async () => {
  const schedule = { base: 10, perByte: 0, perKiloGas: 100, periodBlocks: 1000, operatorAllowance: 10 ** 9, partnerAllowance: 0, regulatorAllowance: 0, userAllowance: 6000 };
  const { node, consensus } = await setup(undefined, schedule);
  try {
    const user = newKeyPair();
    await node.submit(tx(node, user, 'identity', 'register', [user.publicKey, null]));
    await consensus.produce();
    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await node.submit(tx(node, user, 'identity', 'addKey', [randomBytes(32)])));
    await consensus.produce();
    const receipts = sent.map((t) => { const s = node.txStatus(t.hash); return s.status === 'committed' ? s.receipt : undefined; });
    const short = receipts.findIndex((r) => r!.error === 'TX_INSUFFICIENT_QUOTA');
    assert.ok(short >= 0, JSON.stringify(receipts.map((r) => r?.error)));
    assert.ok(receipts[short]!.gasUsed > 0n && receipts[short]!.quotaCharged > 0n, 'the work was counted and paid for with what was left');
    assert.ok(receipts.slice(short + 1).every((r) => r!.error === 'TX_INSUFFICIENT_QUOTA' && r!.gasUsed === 0n), 'later ones did not run');
    const quota = node.contracts.named('quota')!;
    assert.is(decodeResult(quota, 'balanceOf', node.call(quota.address, 'balanceOf', encodeArgs(quota, 'balanceOf', [accountAddress(user.publicKey)])).output), 0n);
  } finally {
    await node.close();
  }
});

test('proposals are refused for a non-validator proposer, too many transactions, a time too far ahead; commits must be signed and one at a time', async () => {
  const { home, node, consensus, operator } = await setup({ maxBlockTxs: 2 });
  const other = await ChainNode.open({ dataDir: join(tempDir(), 'data'), genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    for (let i = 0; i < 2; i++) await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]));
    await consensus.produce();
    const made = node.block(1n)!;
    const h = made.block.header;
    assert.is(await failure(other.checkProposal({ ...made.block, header: { ...h, proposer: accountAddress(newKeyPair().publicKey) } })), 'BLOCK_INVALID');
    assert.is(await failure(other.checkProposal({ ...made.block, header: { ...h, time: BigInt(Date.now() + 60_000) } })), 'BLOCK_INVALID');
    assert.is(await failure(other.checkProposal({ ...made.block, txs: [...made.block.txs, tx(node, operator, 'admission', 'roleOf', [randomBytes(32)])] })), 'BLOCK_INVALID');
    const p = await other.checkProposal(made.block);
    assert.is(await failure(other.commitBlock(p, { ...made.commit, signatures: [] })), 'BLOCK_INVALID');
    const first = other.commitBlock(p, made.commit);
    assert.is(await failure(other.commitBlock(p, made.commit)), 'BLOCK_INVALID');
    await first;
    assert.equal(other.head.hash, node.head.hash);
  } finally {
    await other.close();
    await node.close();
  }
});

test('a commit that fails to be stored leaves its transactions pending; the data folder refuses another genesis file', async () => {
  const { home, node, consensus, operator } = await setup();
  const sent = await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]));
  const store = (node as unknown as { store: { commitBlock: (...a: unknown[]) => Promise<void> } }).store;
  const real = store.commitBlock.bind(store);
  store.commitBlock = async () => { throw new Error('disk full'); };
  await consensus.produce().catch(() => undefined); // the failed commit reaches onError, which the set-up makes throw
  store.commitBlock = real;
  assert.is(node.txStatus(sent.hash).status, 'pending');
  await consensus.produce();
  assert.is(node.txStatus(sent.hash).status, 'committed');
  await node.close();
  assert.is(await failure(ChainNode.open({ dataDir: home.dataDir, genesis: { ...home.genesis, params: { ...home.genesis.params, validityWindow: 7 } }, contracts: home.contracts, verifierWorkers: 0 })), 'GENESIS_MISMATCH');
});

test('pending transactions come back after a restart in the order they arrived', async () => {
  const { home, node, operator } = await setup();
  const sent = [];
  for (let i = 0; i < 12; i++) sent.push((await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]))).hashHex);
  await node.close();
  const again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    assert.equal(again.mempool.reap(100, 1 << 30).map((t) => t.hashHex), sent);
  } finally {
    await again.close();
  }
});

test('a proposal budgeted in time holds what the node executes in it (at least 64); the rest wait for the next block', async () => {
  const { home, node, consensus, operator } = await setup();
  try {
    for (let i = 0; i < 200; i++) await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]));
    await consensus.produce(); // 200 transactions in one block: the node now knows its execution speed
    assert.is(node.block(1n)!.block.txs.length, 200);
    for (let i = 0; i < 200; i++) await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]));
    const proposer = accountAddress(home.validatorKey!.publicKey);
    assert.is(node.proposeBlock(proposer, { budgetMs: 0 }).txs.length, 64);
    assert.is(node.proposeBlock(proposer, { budgetMs: 60_000 }).txs.length, 200);
    assert.is(node.proposeBlock(proposer).txs.length, 200);
  } finally {
    await node.close();
  }
});

test('gossiped transactions are pooled without a disk record; those sent here survive a restart, and leave the disk once committed', async () => {
  const { home, node, operator } = await setup();
  const gossiped = await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]), { gossiped: true });
  const sentBytes = tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]);
  const sent = await node.submit(sentBytes);
  assert.is(node.txStatus(gossiped.hash).status, 'pending');
  // Another copy: a client hears it is a duplicate; gossip brings copies as a matter of course and is not told.
  assert.is(await node.submit(sentBytes).then(() => 'accepted', (e: TxError) => e.code), 'TX_DUPLICATE');
  assert.is((await node.submit(sentBytes, { gossiped: true })).hashHex, sent.hashHex);
  assert.is(node.mempool.size, 2);
  await node.close();
  let again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    assert.is(again.txStatus(sent.hash).status, 'pending');
    assert.is(again.txStatus(gossiped.hash).status, 'unknown');
    await new SoloConsensus(again, keyPairSigner(home.validatorKey!)).produce();
    assert.is(again.txStatus(sent.hash).status, 'committed');
  } finally {
    await again.close();
  }
  again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    assert.is(again.mempool.size, 0);
    assert.is(again.txStatus(sent.hash).status, 'committed');
  } finally {
    await again.close();
  }
});

test('the pool log: a segment goes once the chain is past every validUntilBlock in it; records from before the log move into it', async () => {
  const { home, node, operator } = await setup();
  const h0 = node.height;
  const early = await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)], { validUntilBlock: h0 + 2n }));
  await node.close();
  const poolDir = join(home.dataDir, 'pool');
  assert.equal(readdirSync(poolDir), ['pool-00000001.log']);
  // A pool record as versions before the log kept it in LevelDB: 'P' ‖ hash → arrival number ‖ bytes.
  const legacyBytes = tx(node, operator, 'admission', 'roleOf', [randomBytes(32)], { validUntilBlock: h0 + 9n });
  const legacyHash = createHash('sha256').update(legacyBytes).digest();
  const db = new Level<Uint8Array, Uint8Array>(home.dataDir, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.put(Buffer.concat([Buffer.from([0x50]), legacyHash]), Buffer.concat([Buffer.alloc(8, 0), legacyBytes]));
  await db.close();
  const again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    assert.is(again.txStatus(early.hash).status, 'pending');
    assert.is(again.txStatus(legacyHash).status, 'pending');
    // Moved into a new segment; the first one stays until the chain is past h0 + 2.
    assert.equal(readdirSync(poolDir), ['pool-00000001.log', 'pool-00000002.log']);
    const consensus = new SoloConsensus(again, keyPairSigner(home.validatorKey!));
    await consensus.produce(); // commits both
    assert.is(again.txStatus(early.hash).status, 'committed');
    assert.equal(readdirSync(poolDir), ['pool-00000001.log', 'pool-00000002.log']);
    await consensus.produce();
    assert.ok(again.height >= h0 + 2n);
    assert.equal(readdirSync(poolDir), ['pool-00000002.log']);
  } finally {
    await again.close();
  }
  const after = new Level<Uint8Array, Uint8Array>(home.dataDir, { keyEncoding: 'view', valueEncoding: 'view' });
  const legacyLeft = await after.keys({ gte: Buffer.from([0x50]), lt: Buffer.from([0x51]) }).all();
  await after.close();
  assert.is(legacyLeft.length, 0);
});

test('pool log entries that cannot be decoded (damage the CRC missed) are said at start, and the others reload', async () => {
  const { home, node, operator } = await setup();
  const good = await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)]));
  await node.close();
  const { log } = PoolLog.open(join(home.dataDir, 'pool'));
  await log.append({ validUntilBlock: node.height + 5n, bytes: randomBytes(40) });
  await log.close();
  const warnings: string[] = [];
  const again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0, warn: (m) => warnings.push(m) });
  try {
    assert.is(again.txStatus(good.hash).status, 'pending');
    assert.is(again.mempool.size, 1);
    assert.equal(warnings, ['1 transaction in the pool log could not be decoded and was left out of the pool']);
  } finally {
    await again.close();
  }
});

test('a transaction that expires in the pool is recorded as expired before its pool log segment goes (tried again if that fails)', async () => {
  const { home, node, operator } = await setup({ maxBlockTxs: 1 });
  const h0 = node.height;
  const first = await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)], { validUntilBlock: h0 + 1n }));
  const second = await node.submit(tx(node, operator, 'admission', 'roleOf', [randomBytes(32)], { validUntilBlock: h0 + 1n }));
  await node.close(); // their segment is closed from now on
  const poolDir = join(home.dataDir, 'pool');
  let again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0, warn: () => undefined });
  try {
    // The first try to record the expiry fails: the segment stays, and the record is tried again.
    const store = (again as unknown as { store: { markExpired: (...a: unknown[]) => Promise<void> } }).store;
    const real = store.markExpired.bind(store);
    let failures = 1;
    store.markExpired = (...a: unknown[]) => (failures-- > 0 ? Promise.reject(new Error('disk full')) : real(...a));
    const consensus = new SoloConsensus(again, keyPairSigner(home.validatorKey!));
    await consensus.produce(); // room for one: the other lapses
    assert.equal([again.txStatus(first.hash).status, again.txStatus(second.hash).status], ['committed', 'expired']);
    assert.equal(readdirSync(poolDir), ['pool-00000001.log']);
    await consensus.produce();
    assert.equal(readdirSync(poolDir), []);
  } finally {
    await again.close();
  }
  again = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0 });
  try {
    assert.equal([again.txStatus(first.hash).status, again.txStatus(second.hash).status], ['committed', 'expired']);
    assert.is(again.mempool.size, 0);
  } finally {
    await again.close();
  }
});

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.run();
