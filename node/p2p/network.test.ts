/**
 * Validators on real libp2p (TCP on loopback, noise, yamux, gossipsub): the BFT protocol commits the
 * same blocks everywhere; forged consensus messages do not spread; block sync serves certificates.
 */
import { test } from 'uvu';
import { peerIdFromString } from '@libp2p/peer-id';
import { keyPairSigner } from '../keys/signer.ts';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SYSTEM_CONTRACTS, buildSystemContract, systemAddress, accountAddress } from '../../contracts/system/index.ts';
import { makeGenesis, validatorAddresses } from '../genesis.ts';
import { ChainNode } from '../node.ts';
import { newKeyPair } from '../keys/key-file.ts';
import { BftConsensus, type ConsensusMessage } from '../consensus/bft.ts';
import { ConsensusWal } from '../consensus/wal.ts';
import { verifyCommit } from '../chain/commit.ts';
import { hex } from '../chain/hash.ts';
import { signEd25519 } from '../crypto/ed25519.ts';
import { NIL_BLOCK, votePayload, PREVOTE, commitHash, txRootOf, decodeBlock, encodeCommit, encodeHeader, encodeBlock, headerHash, planSigningPayload, proposalPayload } from '../chain/block.ts';
import { createHash, randomBytes } from 'node:crypto';
import type { DeployedContract } from '../execution/contracts.ts';
import { type CompactProposal, P2pNetwork, encodeConsensusMessage } from './network.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-p2p-'));
const contracts: DeployedContract[] = [];
for (const name of SYSTEM_CONTRACTS) {
  const built = await buildSystemContract(name);
  contracts.push({ name, address: systemAddress(name), wasm: built.wasm, abi: built.abi });
}
const keys = [0, 1, 2, 3].map(() => newKeyPair());
const genesis = makeGenesis({
  chainId: 'brop-p2p', params: { blockTimeMs: 200 },
  operator: { name: 'operator', publicKey: newKeyPair().publicKey },
  validators: keys.map((k, i) => ({ name: `validator-${i + 1}`, publicKey: k.publicKey })),
  contracts: contracts.map((c) => ({ name: c.name, wasm: c.wasm })),
});
const validators = new Set(validatorAddresses(genesis).map(hex));
const isValidator = (a: string) => validators.has(a);

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('four validators over libp2p commit the same certified blocks; forged votes are dropped at the gossip layer', async () => {
  const nets = await Promise.all(keys.map((_, i) => P2pNetwork.start({ chainId: 'brop-p2p', isValidator, peerKeyFile: join(dir, `peer-${i}.key`) })));
  const outsider = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator });
  const nodes: ChainNode[] = [];
  const bfts: BftConsensus[] = [];
  try {
    const all = [...nets, outsider].flatMap((n) => n.addresses());
    for (const n of [...nets, outsider]) await n.addPeers(all.filter((a) => !n.addresses().includes(a)));
    await until(() => nets.every((n) => n.connectedPeers() >= 3), 10_000, 'peers to connect');
    const heard: ConsensusMessage[] = [];
    nets[0]!.subscribe((m) => heard.push(m));
    for (let i = 0; i < 4; i++) {
      const node = await ChainNode.open({ dataDir: join(dir, `v${i}`), genesis, contracts, verifierWorkers: 0 });
      nodes.push(node);
      bfts.push(new BftConsensus(node, keyPairSigner(keys[i]!), nets[i]!, ConsensusWal.open(join(dir, `wal-${i}`)), { timeouts: { proposeMs: 1500, prevoteMs: 300, precommitMs: 300, deltaMs: 300 }, onError: (e) => { throw e; } }));
    }
    await new Promise((r) => setTimeout(r, 1000)); // gossipsub meshes form in about a second
    for (const b of bfts) b.start();
    await until(() => nodes.every((n) => n.height >= 3n), 30_000, 'three heights');
    for (let h = 1n; h <= 3n; h++) {
      const blocks = nodes.map((n) => n.block(h)!);
      for (const b of blocks) assert.equal(b.hash, blocks[0]!.hash);
      verifyCommit(blocks[0]!.block.header, blocks[0]!.commit, nodes[0]!.validators);
    }
    // A vote signed by a key outside the validator set, published by a peer: never delivered.
    const intruder = newKeyPair();
    const height = nodes[0]!.height + 1n;
    const forged: ConsensusMessage = { kind: 'vote', type: 'prevote', height, round: 0, blockHash: NIL_BLOCK, publicKey: intruder.publicKey, signature: signEd25519(intruder.privateKey, votePayload('brop-p2p', PREVOTE, height, 0, NIL_BLOCK)) };
    outsider.broadcast(forged);
    await new Promise((r) => setTimeout(r, 500));
    assert.not.ok(heard.some((m) => hex(accountAddress(m.publicKey)) === hex(accountAddress(intruder.publicKey))));
    // Block sync: a peer serves committed blocks with their certificates.
    const synced = await outsider.requestBlocks(1n, 2);
    assert.is(synced.blocks.length, 2);
    assert.ok(synced.height >= 3n, String(synced.height));
  } finally {
    for (const b of bfts) await b.stop();
    for (const n of nodes) await n.close();
    for (const n of [...nets, outsider]) await n.stop();
  }
});

test('a proposal travels as header and hashes: rebuilt from the pool, what is missing fetched, a peer answering other bytes ignored; a plan travels as it is, and what it names is fetched ahead', async () => {
  const txs = [0, 1, 2].map(() => new Uint8Array(randomBytes(300)));
  const key = (tx: Uint8Array) => createHash('sha256').update(tx).digest('hex');
  const lastCommit = { height: 4n, round: 0, blockHash: new Uint8Array(32), signatures: [] };
  const block = encodeBlock({ header: { chainId: 'brop-p2p', height: 5n, time: 1n, prevHash: new Uint8Array(32), txRoot: txRootOf(txs.map((t) => new Uint8Array(createHash('sha256').update(t).digest()))), stateRoot: new Uint8Array(32), receiptsRoot: new Uint8Array(32), proposer: accountAddress(keys[0]!.publicKey), validatorSetHash: new Uint8Array(32), nextValidatorSetHash: new Uint8Array(32), lastCommitHash: commitHash(lastCommit) }, txs, lastCommit });
  const hash = headerHash(decodeBlock(block).header);
  const proposal: ConsensusMessage = { kind: 'proposal', height: 5n, round: 0, validRound: -1, block, publicKey: keys[0]!.publicKey, signature: signEd25519(keys[0]!.privateKey, proposalPayload('brop-p2p', 5n, 0, -1, hash)) };
  const pool = (have: Uint8Array[]) => (h: string) => have.find((t) => key(t) === h);
  // A second block's transactions, for the plan: only A has them.
  const later = [0, 1].map(() => new Uint8Array(randomBytes(300)));
  const laterBlock = encodeBlock({ ...decodeBlock(block), header: { ...decodeBlock(block).header, txRoot: txRootOf(later.map((t) => new Uint8Array(createHash('sha256').update(t).digest()))) }, txs: later });
  const laterHash = headerHash(decodeBlock(laterBlock).header);
  // A has every transaction; B only the first; C answers requests with other bytes under the same hashes.
  const a = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, pooledTx: pool([...txs, ...later]) });
  const b = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, pooledTx: pool([txs[0]!]) });
  const c = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, pooledTx: (h) => ([...txs, ...later].some((t) => key(t) === h) ? new Uint8Array(randomBytes(300)) : undefined) });
  try {
    // A - B - C: what C publishes reaches B from C first, and B asks C before A.
    await a.addPeers(b.addresses());
    await c.addPeers(b.addresses());
    await until(() => b.connectedPeers() >= 2, 10_000, 'peers to connect');
    const got: ConsensusMessage[] = [];
    b.subscribe((m) => got.push(m));
    const tags: number[] = [];
    b.libp2p.services.pubsub.addEventListener('message', (e) => tags.push(e.detail.data[8]!));
    await new Promise((r) => setTimeout(r, 1500)); // meshes form
    a.broadcast(proposal);
    await until(() => got.length >= 1, 10_000, 'the proposal from A');
    const first = got[0] as Extract<ConsensusMessage, { kind: 'proposal' }>;
    assert.equal([first.kind, first.height, first.round, first.validRound], ['proposal', 5n, 0, -1]);
    assert.ok(Buffer.from(first.block).equals(block), 'the block as proposed');
    assert.ok(Buffer.from(first.signature).equals(proposal.signature) && Buffer.from(first.publicKey).equals(proposal.publicKey));
    assert.equal(tags, [3]); // compact on the wire
    c.broadcast({ ...proposal, round: 1, signature: signEd25519(keys[0]!.privateKey, proposalPayload('brop-p2p', 5n, 1, -1, hash)) });
    await until(() => got.length >= 2, 10_000, 'the proposal from C');
    assert.ok(Buffer.from((got[1] as Extract<ConsensusMessage, { kind: 'proposal' }>).block).equals(block), 'the block as proposed, not C\'s bytes');
    // A relay that reorders the hashes (the signature covers only the header) is refused at the gossip layer.
    const signature = signEd25519(keys[0]!.privateKey, proposalPayload('brop-p2p', 5n, 2, -1, hash));
    const decoded = decodeBlock(block);
    const tampered: CompactProposal = {
      kind: 'compact', height: 5n, round: 2, validRound: -1, header: encodeHeader(decoded.header), lastCommit: encodeCommit(decoded.lastCommit),
      txHashes: [...txs].reverse().map((t) => new Uint8Array(createHash('sha256').update(t).digest())), publicKey: keys[0]!.publicKey, signature,
    };
    await c.libp2p.services.pubsub.publish('/brop/brop-p2p/consensus/1', encodeConsensusMessage(tampered));
    await new Promise((r) => setTimeout(r, 1000));
    assert.is(got.length, 2);
    a.broadcast({ ...proposal, round: 2, signature });
    await until(() => got.length >= 3, 10_000, 'the genuine proposal after the tampered one');
    assert.ok(Buffer.from((got[2] as Extract<ConsensusMessage, { kind: 'proposal' }>).block).equals(block));
    // A plan arrives as it was sent; one whose hashes a relay reordered fails its signature and is dropped.
    const fields = { height: 5n, round: 3, time: 7n, txHashes: later.map((t) => new Uint8Array(createHash('sha256').update(t).digest())), lastCommit: encodeCommit(lastCommit) };
    const plan: ConsensusMessage = { kind: 'plan', ...fields, publicKey: keys[0]!.publicKey, signature: signEd25519(keys[0]!.privateKey, planSigningPayload('brop-p2p', fields)) };
    await c.libp2p.services.pubsub.publish('/brop/brop-p2p/consensus/1', encodeConsensusMessage({ ...plan, txHashes: [...fields.txHashes].reverse() }));
    await new Promise((r) => setTimeout(r, 1000));
    assert.is(got.length, 3);
    await a.broadcast(plan);
    await until(() => got.length >= 4, 10_000, 'the plan from A');
    assert.equal(hex(encodeConsensusMessage(got[3]!).subarray(8)), hex(encodeConsensusMessage(plan).subarray(8)));
    // Consensus took the plan (here: the test) and B fetched its transactions ahead: with A gone, the
    // proposal relayed by C (which answers other bytes) is still rebuilt.
    b.prefetch(fields.txHashes);
    await new Promise((r) => setTimeout(r, 1000));
    await a.stop();
    c.broadcast({ ...proposal, round: 3, block: laterBlock, signature: signEd25519(keys[0]!.privateKey, proposalPayload('brop-p2p', 5n, 3, -1, laterHash)) });
    await until(() => got.length >= 5, 10_000, 'the planned proposal from C');
    assert.ok(Buffer.from((got[4] as Extract<ConsensusMessage, { kind: 'proposal' }>).block).equals(laterBlock));
  } finally {
    for (const n of [a, b, c]) await n.stop();
  }
});

test('transaction batches reach every node once: validators connected to each other send no copies, a node behind one peer still gets them', async () => {
  // A, B and C all connected; D only to B.
  const nets = await Promise.all([0, 1, 2, 3].map(() => P2pNetwork.start({ chainId: 'brop-p2p', isValidator })));
  const [a, b, c, d] = nets as [P2pNetwork, P2pNetwork, P2pNetwork, P2pNetwork];
  try {
    await a.addPeers([...b.addresses(), ...c.addresses()]);
    await b.addPeers([...c.addresses(), ...d.addresses()]);
    await until(() => a.connectedPeers() === 2 && b.connectedPeers() === 3 && c.connectedPeers() === 2 && d.connectedPeers() === 1, 10_000, 'peers to connect');
    const got = nets.map(() => [] as string[]);
    nets.forEach((n, i) => n.onTx((tx) => got[i]!.push(hex(tx))));
    // Every copy gossipsub receives on the transaction topic, duplicates included (they cost decrypting
    // and decoding even when dropped).
    const copies = nets.map(() => 0);
    nets.forEach((n, i) => {
      const pubsub = n.libp2p.services.pubsub as unknown as { handleReceivedMessage(from: unknown, msg: { topic: string }): Promise<void> };
      const handle = pubsub.handleReceivedMessage.bind(pubsub);
      pubsub.handleReceivedMessage = (from, msg) => {
        if (msg.topic.endsWith('/txs/1')) copies[i]!++;
        return handle(from, msg);
      };
    });
    await new Promise((r) => setTimeout(r, 1500)); // meshes form
    const txs = [0].map(() => new Uint8Array(randomBytes(250)));
    for (const tx of txs) a.publishTx(tx);
    await until(() => got[3]!.length === txs.length, 10_000, 'the batch to reach D through B');
    await new Promise((r) => setTimeout(r, 1000)); // time for any late copies
    assert.equal(got[0], [], 'the publisher does not hear its own batch');
    for (const i of [1, 2, 3]) assert.equal(got[i], txs.map(hex), `node ${i} got each transaction once, in order`);
    assert.equal(copies, [0, 1, 1, 1], 'one copy per node: B and C do not send each other what A sent both');
  } finally {
    await Promise.all(nets.map((n) => n.stop()));
  }
});

test('a peer that sends invalid gossip is disconnected and refused for a while; honest peers are not', async () => {
  const logged: Array<Record<string, unknown>> = [];
  const a = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, penaltyMs: 4000, log: (e) => logged.push(e) });
  const [honest, rogue] = await Promise.all([0, 1].map(() => P2pNetwork.start({ chainId: 'brop-p2p', isValidator }))) as [P2pNetwork, P2pNetwork];
  try {
    await honest.addPeers(a.addresses());
    await rogue.addPeers(a.addresses()); // rogue redials a every 2 s
    await until(() => a.connectedPeers() === 2, 10_000, 'both peers to connect');
    await new Promise((r) => setTimeout(r, 1500)); // meshes form
    const key = keys[0]!;
    const vote = (round: number): ConsensusMessage => ({ kind: 'vote', type: 'prevote', height: 1n, round, blockHash: NIL_BLOCK, publicKey: key.publicKey, signature: signEd25519(key.privateKey, votePayload('brop-p2p', PREVOTE, 1n, round, NIL_BLOCK)) });
    const heard: ConsensusMessage[] = [];
    a.subscribe((m) => heard.push(m));
    // The honest peer's valid vote and a vote from a key outside the set (ignored, not punished).
    honest.broadcast(vote(0));
    const outsider = newKeyPair();
    honest.broadcast({ ...vote(1), publicKey: outsider.publicKey, signature: signEd25519(outsider.privateKey, votePayload('brop-p2p', PREVOTE, 1n, 1, NIL_BLOCK)) });
    await until(() => heard.length === 1, 5000, 'the honest vote');
    // The rogue peer: a validator's vote with a signature that does not match, then bytes that do not decode.
    const forged = encodeConsensusMessage({ ...vote(2), signature: signEd25519(key.privateKey, votePayload('brop-p2p', PREVOTE, 1n, 3, NIL_BLOCK)) });
    // Sent again until it lands: on a loaded machine the rogue's mesh may not have formed yet.
    const rogueSends = async () => {
      await rogue.libp2p.services.pubsub.publish('/brop/brop-p2p/consensus/1', forged).catch(() => undefined);
      await rogue.libp2p.services.pubsub.publish('/brop/brop-p2p/consensus/1', new Uint8Array(randomBytes(100))).catch(() => undefined);
    };
    await rogueSends();
    const resend = setInterval(() => { if (a.connectedPeers() === 2) void rogueSends(); }, 1000);
    try {
      await until(() => a.connectedPeers() === 1, 10_000, 'the rogue peer to be disconnected');
    } finally {
      clearInterval(resend);
    }
    assert.equal(a.penalisedPeers(), [rogue.peerId]);
    assert.equal(logged.map((e) => [e.event, e.peer]), [['peer-penalised', rogue.peerId]]);
    assert.is(heard.length, 1, 'nothing of the rogue peer delivered');
    // Refused while the penalty lasts (the rogue keeps redialling), let back in after it.
    await new Promise((r) => setTimeout(r, 2500));
    assert.is(a.connectedPeers(), 1);
    assert.ok(a.libp2p.getPeers().every((p) => p.toString() === honest.peerId));
    await until(() => a.connectedPeers() === 2, 10_000, 'the rogue peer back after its penalty');
    assert.equal(a.penalisedPeers(), []);
  } finally {
    await Promise.all([a.stop(), honest.stop(), rogue.stop()]);
  }
});

test('block sync answers carry the peer\'s committed height, with blocks or without', async () => {
  const [a, b] = await Promise.all([0, 1].map(() => P2pNetwork.start({ chainId: 'brop-p2p', isValidator })));
  try {
    const block = { block: new Uint8Array([1, 2, 3]), commit: new Uint8Array([4, 5]) };
    a!.serveBlocks((from, max) => ({ height: 42n, blocks: from <= 42n ? Array.from({ length: Math.min(max, 3) }, () => block) : [] }));
    await b!.addPeers(a!.addresses());
    await until(() => b!.connectedPeers() === 1, 10_000, 'b to connect');
    const got = await b!.requestBlocks(40n, 2);
    assert.is(got.height, 42n);
    assert.equal(got.blocks.map((x) => [hex(x.block), hex(x.commit)]), [['010203', '0405'], ['010203', '0405']]);
    const none = await b!.requestBlocks(43n, 64);
    assert.is(none.height, 42n, 'a peer with nothing to give still says how far it is');
    assert.equal(none.blocks, []);
  } finally {
    await Promise.all([a!.stop(), b!.stop()]);
  }
});

test('a denied peer is disconnected, cannot connect either way, and is dialled again once allowed', async () => {
  const key = keys[0]!;
  const [a, b] = await Promise.all([0, 1].map(() => P2pNetwork.start({ chainId: 'brop-p2p', isValidator })));
  try {
    const heard: ConsensusMessage[] = [];
    a!.subscribe((m) => heard.push(m));
    await a!.addPeers(b!.addresses());
    await b!.addPeers(a!.addresses());
    await until(() => a!.connectedPeers() === 1 && b!.connectedPeers() === 1, 10_000, 'a and b to connect');

    const refused = await a!.setDeniedPeers([b!.peerId, 'not-a-peer-id']).then(() => 'accepted', (e: { code?: string }) => e.code);
    assert.is(refused, 'P2P_BAD_PEER_ID');
    assert.equal(a!.deniedPeers(), [], 'a bad list changes nothing');

    const r = await a!.setDeniedPeers([b!.peerId]);
    assert.equal(r, { denied: [b!.peerId], disconnected: [b!.peerId], allowed: [] });
    await until(() => a!.connectedPeers() === 0 && b!.connectedPeers() === 0, 10_000, 'the connection to close');
    // b keeps redialling a (every 2 s, and now): a's gater refuses it; a does not dial b either.
    await b!.addPeers(a!.addresses());
    const dialled = await a!.libp2p.dial(b!.libp2p.getMultiaddrs()[0]!).then(() => 'connected', (e: Error) => e.name);
    assert.is(dialled, 'DialDeniedError');
    const vote = (round: number): ConsensusMessage => ({ kind: 'vote', type: 'prevote', height: 1n, round, blockHash: NIL_BLOCK, publicKey: key.publicKey, signature: signEd25519(key.privateKey, votePayload('brop-p2p', PREVOTE, 1n, round, NIL_BLOCK)) });
    for (let i = 0; i < 5; i++) {
      b!.broadcast(vote(0));
      await new Promise((res) => setTimeout(res, 500));
    }
    assert.is(a!.connectedPeers(), 0);
    assert.is(heard.length, 0);

    const back = await a!.setDeniedPeers([]);
    assert.equal(back.allowed, [b!.peerId]);
    await until(() => a!.connectedPeers() === 1, 10_000, 'a to dial b again');
    // Gossip flows again once the mesh has formed (about a second).
    const end = Date.now() + 15_000;
    while (heard.length === 0 && Date.now() < end) {
      b!.broadcast(vote(1));
      await new Promise((res) => setTimeout(res, 300));
    }
    assert.ok(heard.some((m) => m.round === 1), 'gossip from b arrives again');
  } finally {
    await Promise.all([a!.stop(), b!.stop()]);
  }
});

test('the peer identity persists in its file (made on first start, its folder too); a damaged file is P2P_BAD_PEER_KEY, not a new identity', async () => {
  const file = join(dir, 'hand-made-home', 'keys', 'peer.key');
  const isValidator = () => false;
  const first = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, peerKeyFile: file });
  const id = first.peerId;
  await first.stop();
  const again = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, peerKeyFile: file });
  assert.is(again.peerId, id);
  await again.stop();
  writeFileSync(file, 'not a key');
  assert.is(await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, peerKeyFile: file }).then(async (n) => { await n.stop(); return 'started'; }, (e: { code?: string }) => e.code), 'P2P_BAD_PEER_KEY');
  assert.is(readFileSync(file, 'utf8'), 'not a key', 'left for the operator to restore');
});

test('a peer address with this node\'s own peer id (a copied home) is P2P_SELF_PEER, at start and when added', async () => {
  const file = join(dir, 'copied-home', 'peer.key');
  const isValidator = () => false;
  const original = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, peerKeyFile: file });
  const address = `/ip4/127.0.0.1/tcp/1/p2p/${original.peerId}`;
  await original.stop();
  const code = (e: { code?: string }) => e.code;
  const asCid = `/ip4/127.0.0.1/tcp/1/p2p/${peerIdFromString(original.peerId).toCID().toString()}`; // another spelling of the same id
  for (const peers of [[address], ['/ip4/127.0.0.1/tcp/2/p2p/12D3KooWNvSZnPi3RrhrTwEY4LuuBeB6K6facKUCJcyWG1aoDd2p', asCid]]) {
    assert.is(await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, peerKeyFile: file, peers }).then(async (n) => { await n.stop(); return 'started'; }, code), 'P2P_SELF_PEER');
  }
  const other = await P2pNetwork.start({ chainId: 'brop-p2p', isValidator, peerKeyFile: file });
  try {
    assert.is(await other.addPeers([address]).then(() => 'added', code), 'P2P_SELF_PEER');
  } finally {
    await other.stop();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
