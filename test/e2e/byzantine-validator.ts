/**
 * A Byzantine validator, for test/e2e/faults.test.ts only: `node byzantine-validator.ts HOME` joins
 * the chain's gossip network as HOME's validator (its key, peer key and p2p config) and equivocates
 * everywhere it can. For every height and round it sees it signs two prevotes and two precommits
 * for different blocks (the proposed one, or what others voted, and a random hash); when it is the
 * round's proposer it signs two different blocks. It runs no consensus: it follows the chain by block
 * sync, only to make valid proposals on the current head.
 *
 * It uses the project's own network, encodings and signer, so what it sends is exactly what a real
 * validator could send, well-formed and correctly signed: only the honest nodes' consensus stands
 * between it and a fork. Prints JSON lines: `started`, `equivocated`, `proposed`, `synced`.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { accountAddress } from '../../contracts/system/index.ts';
import { loadHome } from '../../node/home.ts';
import { ChainNode } from '../../node/node.ts';
import { P2pNetwork } from '../../node/p2p/network.ts';
import { keyPairSigner } from '../../node/keys/signer.ts';
import { PRECOMMIT, PREVOTE, decodeBlock, decodeCommit, encodeBlock, headerHash, proposalPayload, votePayload } from '../../node/chain/block.ts';
import { verifyCommit } from '../../node/chain/commit.ts';
import { hex } from '../../node/chain/hash.ts';
import { TendermintMachine } from '../../node/consensus/tendermint.ts';
import type { ConsensusMessage } from '../../node/consensus/bft.ts';

const print = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event, (_k, v) => (typeof v === 'bigint' ? Number(v) : v))}\n`);

const home = loadHome(process.argv[2] ?? '');
if (!home.validatorKey || !home.config.p2p) throw new Error('byzantine-validator: HOME must be a validator home with a plain key file and a p2p section');
const signer = keyPairSigner(home.validatorKey);
const self = hex(accountAddress(signer.publicKey));
const node = await ChainNode.open({ dataDir: home.dataDir, genesis: home.genesis, contracts: home.contracts, verifierWorkers: 0, warn: () => undefined });
const chainId = node.params.chainId;
/** The proposer rotation of the next height's validator set: which rounds are this validator's to propose. */
const proposer = (height: bigint, round: number) => new TendermintMachine(self, node.validators.map(hex)).proposer(height, round);
const net = await P2pNetwork.start({
  chainId, listen: home.config.p2p.listen, peers: home.config.p2p.peers, peerKeyFile: join(home.home, 'keys', 'peer.key'),
  isValidator: (a) => node.isRecentValidator(a), maxBlockBytes: node.params.maxBlockBytes,
});
net.serveBlocks(() => ({ height: node.height, blocks: [] }));

/** What it has signed already, so each conflict is sent once: `height|round|what`. */
const done = new Set<string>();

function vote(type: 'prevote' | 'precommit', height: bigint, round: number, blockHash: Uint8Array): ConsensusMessage {
  const signature = signer.sign(votePayload(chainId, type === 'prevote' ? PREVOTE : PRECOMMIT, height, round, blockHash));
  return { kind: 'vote', type, height, round, blockHash, publicKey: signer.publicKey, signature };
}

/** Two prevotes and two precommits at (height, round): for `blockHash` and for a random block. */
function equivocate(height: bigint, round: number, blockHash: Uint8Array): void {
  const slot = `${height}|${round}|${hex(blockHash)}`;
  if (done.has(slot)) return;
  done.add(slot);
  const other = randomBytes(32);
  for (const type of ['prevote', 'precommit'] as const) {
    net.broadcast(vote(type, height, round, blockHash));
    net.broadcast(vote(type, height, round, other));
  }
  print({ event: 'equivocated', height, round, block: hex(blockHash), other: hex(other) });
}

/** As the round's proposer: two different blocks on the head (different times), and votes for both. */
async function proposeTwice(height: bigint, round: number): Promise<void> {
  if (height !== node.height + 1n || proposer(height, round) !== self || done.has(`${height}|${round}|proposed`)) return;
  done.add(`${height}|${round}|proposed`);
  const a = node.proposeBlock(accountAddress(signer.publicKey));
  await new Promise((r) => setTimeout(r, 5)); // a later time: another header, another block
  const b = node.proposeBlock(accountAddress(signer.publicKey));
  for (const p of [a, b]) {
    net.broadcast({
      kind: 'proposal', height, round, validRound: -1, block: encodeBlock(p.block), publicKey: signer.publicKey,
      signature: signer.sign(proposalPayload(chainId, height, round, -1, p.hash)),
    });
  }
  print({ event: 'proposed', height, round, blocks: [hex(a.hash), hex(b.hash)] });
  equivocate(height, round, a.hash);
  equivocate(height, round, b.hash);
}

/** Follows the chain: committed blocks with their certificates, checked like an honest node checks them. */
let syncing = false;
async function sync(): Promise<void> {
  if (syncing) return;
  syncing = true;
  try {
    for (;;) {
      const { blocks } = await net.requestBlocks(node.height + 1n, 64);
      let advanced = false;
      for (const s of blocks) {
        const block = decodeBlock(s.block);
        if (block.header.height !== node.height + 1n) break;
        const commit = decodeCommit(s.commit);
        verifyCommit(block.header, commit, node.validators);
        await node.commitBlock(await node.checkProposal(block), commit);
        advanced = true;
      }
      if (!advanced) break;
      print({ event: 'synced', height: node.height });
    }
  } catch (e) {
    print({ event: 'sync-failed', message: (e as Error).message });
  } finally {
    syncing = false;
  }
  // A new head: round 0 of the next height may be this validator's.
  await proposeTwice(node.height + 1n, 0);
}

net.subscribe((m) => {
  if (m.height <= node.height) return;
  if (m.height > node.height + 1n) {
    void sync();
    return;
  }
  if (m.kind === 'plan') return; // plans carry nothing to vote on
  if (m.kind === 'proposal') {
    let blockHash: Uint8Array;
    try {
      blockHash = headerHash(decodeBlock(m.block).header);
    } catch {
      return;
    }
    equivocate(m.height, m.round, blockHash);
  } else {
    equivocate(m.height, m.round, m.blockHash);
  }
  // The next round may be this validator's to propose in.
  void proposeTwice(m.height, m.round + 1);
});

// Honest validators say nothing at a height until its first round times out: polling finds new heads
// in time to propose in round 0.
const poll = setInterval(() => void sync(), 200);
print({ event: 'started', peerId: net.peerId, validator: self, height: node.height });

const stop = async () => {
  clearInterval(poll);
  await net.stop();
  await node.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
