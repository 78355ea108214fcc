import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { accountAddress, PERM, systemAddress } from '../contracts/system/index.ts';
import { ChainNode, stateKey } from './node.ts';
import { SoloConsensus } from './consensus/solo.ts';
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
  const consensus = new SoloConsensus(node, home.validatorKey!, { onError: (e) => { throw e; } });
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

test('a new key registers itself; an unanswered transaction ends as expired, never unknown', async () => {
  const { node, consensus } = await setup();
  try {
    const user = newKeyPair();
    const reg = await node.submit(tx(node, user, 'identity', 'register', [user.publicKey, 'alice']));
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
    assert.ok(sent.every((t) => node.txStatus(t.hash).status === 'committed'));
  } finally {
    await node.close();
  }
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
      const forged = made.block.txs[0]!.slice();
      forged[forged.length - 1]! ^= 1;
      assert.is(await failure(other.checkProposal({ ...made.block, txs: [forged, ...made.block.txs.slice(1)] })), 'BLOCK_INVALID');
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

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test.run();
