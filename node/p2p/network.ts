/**
 * The peer-to-peer network of a node, on libp2p 3: TCP, noise encryption, yamux multiplexing,
 * identify and ping, gossipsub for consensus messages and transactions, and request/response
 * protocols for block sync and for the transactions of a compact proposal. It implements the consensus
 * transport (bft.ts) and carries transactions between pools.
 *
 * Gossip is validated before it spreads: a consensus message must decode and carry a valid signature
 * of a validator, a transaction batch must decode; anything else is rejected, which lowers the
 * sender's gossipsub score. A peer whose score falls to the graylist threshold (two rejected messages
 * in quick succession) is disconnected and refused for a while (`penaltyMs`). A peer's identity is a
 * persistent Ed25519 key (peer.key in the node's home).
 *
 * An operator may deny peers (by peer id): the connection gater refuses dialling them and their
 * inbound connections, gossip they forward is ignored, and the list can change while the node runs.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { ping } from '@libp2p/ping';
import { gossipsub, StrictNoSign, TopicValidatorResult, type GossipSub } from '@libp2p/gossipsub';
import { createTopicScoreParams } from '@libp2p/gossipsub/score';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr';
import { lpStream } from '@libp2p/utils';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id';
import { type AbiType, type StructTable, decode, encode } from '../../contracts/sdk/codec.ts';
import { accountAddress } from '../../contracts/system/index.ts';
import { verifyEd25519Remembered } from '../crypto/ed25519.ts';
import { PRECOMMIT, PREVOTE, bodyMatchesHeader, decodeBlock, decodeCommit, decodeHeader, encodeBlock, encodeCommit, encodeHeader, headerHash, planSigningPayload, proposalPayload, txRootOf, votePayload } from '../chain/block.ts';
import { equalBytes, sha256 } from '../chain/hash.ts';
import { hex } from '../chain/hash.ts';
import type { ConsensusMessage, ConsensusTransport, PlanMessage, SyncResponse, SyncedBlock } from '../consensus/bft.ts';
import { coalescedWrites, grantYamuxCreditInHalves } from './frames.ts';

export interface NetworkOptions {
  chainId: string;
  /** Multiaddrs to listen on (default: loopback, a free port). */
  listen?: string[];
  /** Peers to dial at start and redial when lost: multiaddrs ending in /p2p/PEER_ID. */
  peers?: string[];
  /** File of the persistent peer key (created on first start). */
  peerKeyFile?: string;
  /**
   * Whether a hex address is a validator now (the set changes by governance): only validators' signed
   * consensus messages spread. Others are dropped without penalising the peer, which may be ahead of us.
   */
  isValidator: (address: string) => boolean;
  maxConnections?: number;
  /** The chain's block limits: gossip frames are sized to carry the largest proposal, fetches bounded by them. */
  maxBlockBytes?: number;
  maxBlockTxs?: number;
  maxTxBytes?: number;
  /**
   * The node's committed height: proposals are taken for the next two heights only (an old proposal
   * replayed by a peer would otherwise cost every node a rebuild).
   */
  height?: () => bigint;
  /** Peer ids never to connect to nor take gossip from (an operator's ban list; see setDeniedPeers). */
  denyPeers?: readonly string[];
  /**
   * A pending transaction's bytes by hash (hex), from the node's pool. Proposals travel as a header and
   * transaction hashes; a receiver rebuilds the block from its pool and fetches only what it lacks.
   */
  pooledTx?: (hashHex: string) => Uint8Array | undefined;
  /** How long a peer that sent invalid gossip is refused after being disconnected (default 10 minutes). */
  penaltyMs?: number;
  /** Where the network reports what an operator should hear of (a peer disconnected for invalid gossip). */
  log?: (event: Record<string, unknown>) => void;
}

export class P2pError extends Error {
  readonly code: 'P2P_BAD_PEER_ID' | 'P2P_BAD_PEER_KEY' | 'P2P_SELF_PEER';
  constructor(code: P2pError['code'], message: string) {
    super(message);
    this.name = 'P2pError';
    this.code = code;
  }
}

/** The peer id a multiaddr ends in (/p2p/ID), in canonical form; undefined if it is not a multiaddr or names no valid id. */
export function peerIdOfAddress(address: string): string | undefined {
  try {
    const value = multiaddr(address).getComponents().findLast((c) => c.code === CODE_P2P)?.value;
    return value === undefined ? undefined : peerIdFromString(value).toString();
  } catch {
    return undefined;
  }
}

/** Checks that every entry is a libp2p peer id; returns them in canonical form. */
export function parsePeerIds(ids: readonly unknown[]): string[] {
  return ids.map((id) => {
    try {
      if (typeof id !== 'string') throw new TypeError('not a string');
      return peerIdFromString(id).toString();
    } catch (e) {
      throw new P2pError('P2P_BAD_PEER_ID', `${JSON.stringify(id)} is not a peer id: ${(e as Error).message}`);
    }
  });
}

const b32: AbiType = 'bytes32';
const WIRE: StructTable = {
  Proposal: [
    { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' }, { name: 'validRound', type: 'i32' },
    { name: 'block', type: 'bytes' }, { name: 'publicKey', type: 'bytes' }, { name: 'signature', type: 'bytes' },
  ],
  Vote: [
    { name: 'type', type: 'u8' }, { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' },
    { name: 'blockHash', type: b32 }, { name: 'publicKey', type: 'bytes' }, { name: 'signature', type: 'bytes' },
  ],
  SyncRequest: [{ name: 'from', type: 'u64' }, { name: 'max', type: 'u32' }],
  // Before the blocks: the serving peer's committed height (a syncing node's target) and how many blocks follow.
  SyncHead: [{ name: 'height', type: 'u64' }, { name: 'count', type: 'u32' }],
  TxBatch: [{ name: 'txs', type: { array: 'bytes' } }],
  CompactProposal: [
    { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' }, { name: 'validRound', type: 'i32' },
    { name: 'header', type: 'bytes' }, { name: 'txHashes', type: { array: b32 } }, { name: 'lastCommit', type: 'bytes' },
    { name: 'publicKey', type: 'bytes' }, { name: 'signature', type: 'bytes' },
  ],
  Plan: [
    { name: 'height', type: 'u64' }, { name: 'round', type: 'u32' }, { name: 'time', type: 'u64' }, { name: 'txHashes', type: { array: b32 } },
    { name: 'lastCommit', type: 'bytes' }, { name: 'publicKey', type: 'bytes' }, { name: 'signature', type: 'bytes' },
  ],
  TxRequest: [{ name: 'hashes', type: { array: b32 } }],
  // One entry per hash asked for, in order; empty where the peer does not have it.
  TxResponse: [{ name: 'txs', type: { array: 'bytes' } }],
  SyncedBlock: [{ name: 'block', type: 'bytes' }, { name: 'commit', type: 'bytes' }],
};

/**
 * A proposal as it travels between nodes that keep pools: its block's header and the hashes of its
 * transactions, which the receivers already have from transaction gossip (a block's bytes would
 * otherwise cross every link twice). The signature is the proposal's, over the header's hash; the
 * header's transaction root binds the hashes' transactions, and a receiver executing the rebuilt block
 * checks it.
 */
export interface CompactProposal {
  kind: 'compact';
  height: bigint; round: number; validRound: number;
  header: Uint8Array; txHashes: Uint8Array[]; lastCommit: Uint8Array; publicKey: Uint8Array; signature: Uint8Array;
}

const TAG_PROPOSAL = 1, TAG_VOTE = 2, TAG_COMPACT = 3, TAG_PLAN = 4;

/**
 * A consensus message on the wire: 8 bytes of nonce, one tag byte (1 proposal with its whole block,
 * 2 vote, 3 compact proposal, 4 block plan), then its fields. Gossip ids are content hashes, and a node sends its
 * messages again until the height ends (peers that were away must get them): the nonce makes each
 * sending a new gossip message.
 */
export function encodeConsensusMessage(m: ConsensusMessage | CompactProposal): Uint8Array {
  const { kind: _kind, ...fields } = m;
  const body = m.kind === 'proposal' ? encode({ struct: 'Proposal' }, fields, WIRE)
    : m.kind === 'compact' ? encode({ struct: 'CompactProposal' }, fields, WIRE)
      : m.kind === 'plan' ? encode({ struct: 'Plan' }, fields, WIRE)
        : encode({ struct: 'Vote' }, { ...fields, type: m.type === 'prevote' ? PREVOTE : PRECOMMIT }, WIRE);
  const out = new Uint8Array(NONCE + 1 + body.length);
  out.set(randomBytes(NONCE));
  out[NONCE] = m.kind === 'proposal' ? TAG_PROPOSAL : m.kind === 'compact' ? TAG_COMPACT : m.kind === 'plan' ? TAG_PLAN : TAG_VOTE;
  out.set(body, NONCE + 1);
  return out;
}

const NONCE = 8;

/** Throws on anything that is not a well-formed message. */
export function decodeConsensusMessage(wire: Uint8Array): ConsensusMessage | CompactProposal {
  if (wire.length < NONCE + 1) throw new RangeError('consensus message too short');
  const bytes = wire.subarray(NONCE);
  if (bytes[0] === TAG_PROPOSAL) return { kind: 'proposal', ...(decode({ struct: 'Proposal' }, bytes.subarray(1), WIRE) as Omit<Extract<ConsensusMessage, { kind: 'proposal' }>, 'kind'>) };
  if (bytes[0] === TAG_COMPACT) {
    const c = decode({ struct: 'CompactProposal' }, bytes.subarray(1), WIRE) as Omit<CompactProposal, 'kind'>;
    if (c.txHashes.length > MAX_COMPACT_TXS) throw new RangeError('too many transactions in a proposal');
    return { kind: 'compact', ...c };
  }
  if (bytes[0] === TAG_PLAN) {
    const p = decode({ struct: 'Plan' }, bytes.subarray(1), WIRE) as Omit<PlanMessage, 'kind'>;
    if (p.txHashes.length > MAX_COMPACT_TXS) throw new RangeError('too many transactions in a plan');
    return { kind: 'plan', ...p };
  }
  if (bytes[0] === TAG_VOTE) {
    const v = decode({ struct: 'Vote' }, bytes.subarray(1), WIRE) as { type: number } & Omit<Extract<ConsensusMessage, { kind: 'vote' }>, 'kind' | 'type'>;
    if (v.type !== PREVOTE && v.type !== PRECOMMIT) throw new RangeError('unknown vote type');
    return { ...v, kind: 'vote', type: v.type === PREVOTE ? 'prevote' : 'precommit' };
  }
  throw new RangeError('unknown consensus message kind');
}

/** Whether a consensus message's signature is good (checked before it spreads further). */
export function validlySigned(m: ConsensusMessage | CompactProposal, chainId: string): boolean {
  if (m.kind === 'vote') return verifyEd25519Remembered(m.publicKey, votePayload(chainId, m.type === 'prevote' ? PREVOTE : PRECOMMIT, m.height, m.round, m.blockHash), m.signature);
  if (m.kind === 'plan') return verifyEd25519Remembered(m.publicKey, planSigningPayload(chainId, m), m.signature);
  let blockHash: Uint8Array;
  try {
    blockHash = headerHash(m.kind === 'compact' ? decodeHeader(m.header) : decodeBlock(m.block).header);
  } catch {
    return false;
  }
  return verifyEd25519Remembered(m.publicKey, proposalPayload(chainId, m.height, m.round, m.validRound, blockHash), m.signature);
}

/**
 * Whether a proposal's body is the one its signed header names (transactions by their hashes, the
 * carried commit by its hash), within the block's transaction limit. Checked before a proposal spreads;
 * a plan is checked for its size (its signature covers the rest).
 */
function wellFormedProposal(m: Exclude<ConsensusMessage, { kind: 'vote' }> | CompactProposal, maxBlockTxs: number): boolean {
  try {
    if (m.kind === 'plan') return m.txHashes.length <= maxBlockTxs;
    if (m.kind === 'proposal') {
      const block = decodeBlock(m.block);
      return block.txs.length <= maxBlockTxs && bodyMatchesHeader(block);
    }
    if (m.txHashes.length > maxBlockTxs) return false;
    const header = decodeHeader(m.header);
    return equalBytes(txRootOf(m.txHashes), header.txRoot) && equalBytes(sha256(m.lastCommit), header.lastCommitHash);
  } catch {
    return false;
  }
}

/**
 * A peer address naming this node's own peer id means two nodes share a peer key (a home copied from
 * another node's): libp2p never dials itself, so both would run on without ever connecting. Refused.
 */
function refuseSelf(addresses: readonly string[], self: string, keyFile: string | undefined): void {
  addresses.forEach((a, i) => {
    if (peerIdOfAddress(a) !== self) return;
    throw new P2pError('P2P_SELF_PEER', `peer ${i} (${a}) has this node's own peer id: ${keyFile ?? 'this node\'s peer key'} is a copy of that node's (was its home copied?). Delete it to start under a new peer id, and give the other nodes the new address`);
  });
}

async function peerKey(file: string | undefined): Promise<PrivateKey> {
  if (file && existsSync(file)) {
    try {
      return privateKeyFromProtobuf(new Uint8Array(readFileSync(file)));
    } catch (e) {
      // Not made anew: peers and deny lists know this node by it.
      throw new P2pError('P2P_BAD_PEER_KEY', `${file} is not a libp2p private key (${(e as Error).message}): restore it, or delete it to start under a new peer id`);
    }
  }
  const key = await generateKeyPair('Ed25519');
  if (file) {
    mkdirSync(dirname(file), { recursive: true }); // a home made by hand may have no keys/ yet
    writeFileSync(`${file}.tmp`, privateKeyToProtobuf(key), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  }
  return key;
}

const MAX_SYNC_RESPONSE = 64;
/** Transactions a compact proposal may list, and a transaction request may ask for. */
const MAX_COMPACT_TXS = 100_000;
/** Bytes of recent proposals' transactions kept beyond the pool, to serve peers that lack them too. */
const PROPOSAL_TX_BYTES_KEPT = 64 * 1024 * 1024;
/** Compact proposals recently rebuilt (by signature): a replay with a new gossip nonce is not rebuilt again. */
const REBUILT_KEPT = 1024;
/**
 * Scoring of invalid gossip: each rejected message adds one to a peer's counter on its topic, which
 * decays by 10% a second; the score is -25 × counter². gossipsub ignores a peer at or below -80
 * (graylist): two rejected messages within a few seconds. Honest peers never get there: a message is
 * rejected only for what no honest node sends or forwards (it does not decode, a signature is bad, a
 * proposal's body is not what its header names); what depends on this node's state (an unknown
 * validator, a height too far ahead) is ignored, not rejected.
 */
const INVALID_MESSAGE_WEIGHT = -25;
const GRAYLIST_SCORE = -80;
const DEFAULT_PENALTY_MS = 10 * 60_000;
/** Parts of gossipsub's class that its exported interface leaves out. */
interface GossipSubClass {
  reportMessageValidationResult(msgId: string, propagationSource: string, acceptance: TopicValidatorResult): void;
  getScore(peerId: string): number;
}
/** How long a received transaction batch waits before it is forwarded (see the message handler). */
const TX_FORWARD_DELAY_MS = 500;
/** How long a rebuild may spend fetching missing transactions, over all the peers it asks. */
const FETCH_DEADLINE_MS = 5000;
/** How long a rebuild waits for a plan's prefetch of the transactions it lacks before asking itself. */
const PREFETCH_WAIT_MS = 300;
/** Transactions per gossip message, and bytes: gossipsub refuses messages above 1 MiB. */
const TX_BATCH = 200;
const TX_BATCH_BYTES = 512 * 1024;

function decodeTxBatch(data: Uint8Array): Uint8Array[] {
  const { txs } = decode({ struct: 'TxBatch' }, data, WIRE) as { txs: Uint8Array[] };
  if (txs.length === 0 || txs.length > TX_BATCH) throw new RangeError('a transaction batch holds 1 to 200 transactions');
  return txs;
}

export class P2pNetwork implements ConsensusTransport {
  readonly libp2p: Libp2p<{ pubsub: GossipSub }>;
  private readonly consensusTopic: string;
  private readonly txTopic: string;
  private readonly syncProtocol: string;
  private readonly txProtocol: string;
  private readonly pooledTx: ((hashHex: string) => Uint8Array | undefined) | undefined;
  /** Transactions of proposals this node sent or fetched, by hash: what its pool may not hold. */
  private readonly proposalTxs = new Map<string, Uint8Array>();
  private proposalTxBytes = 0;
  private readonly rebuilt = new Set<string>();
  private readonly maxBlockBytes: number;
  private readonly maxBlockTxs: number;
  private readonly maxTxBytes: number;
  /** A proposal goes out again unchanged (the same message object): its compact form is made once. */
  private readonly compacted = new WeakMap<ConsensusMessage, Uint8Array>();
  private peers: string[];
  private readonly peerKeyFile: string | undefined;
  private consensusReceivers: Array<(m: ConsensusMessage) => void> = [];
  private txReceivers: Array<(tx: Uint8Array) => void> = [];
  private serve: ((from: bigint, max: number) => SyncResponse) | undefined;
  private redial: NodeJS.Timeout | undefined;
  /** Denied peer ids: read by the connection gater and the gossip validators, so changes apply at once. */
  private readonly denied: Set<string>;
  /** Peers disconnected for invalid gossip, until when (ms since the epoch); the gater refuses them meanwhile. */
  private readonly penalised: Map<string, number>;
  private readonly penaltyMs: number;
  private readonly log: (event: Record<string, unknown>) => void;
  private scoring: NodeJS.Timeout | undefined;

  private constructor(libp2p: Libp2p<{ pubsub: GossipSub }>, opts: NetworkOptions, denied: Set<string>, penalised: Map<string, number>) {
    this.libp2p = libp2p;
    this.denied = denied;
    this.penalised = penalised;
    this.penaltyMs = opts.penaltyMs ?? DEFAULT_PENALTY_MS;
    this.log = opts.log ?? (() => undefined);
    this.consensusTopic = `/brop/${opts.chainId}/consensus/1`;
    this.txTopic = `/brop/${opts.chainId}/txs/1`;
    this.syncProtocol = `/brop/${opts.chainId}/sync/2.0.0`;
    this.txProtocol = `/brop/${opts.chainId}/tx-fetch/1`;
    this.pooledTx = opts.pooledTx;
    this.maxBlockBytes = opts.maxBlockBytes ?? 8 * 1024 * 1024;
    this.maxBlockTxs = Math.min(opts.maxBlockTxs ?? 20_000, MAX_COMPACT_TXS);
    this.maxTxBytes = opts.maxTxBytes ?? 64 * 1024;
    this.peers = opts.peers ?? [];
    this.peerKeyFile = opts.peerKeyFile;
  }

  static async start(opts: NetworkOptions): Promise<P2pNetwork> {
    const denied = new Set(parsePeerIds(opts.denyPeers ?? []));
    // Peers disconnected for invalid gossip, until when (ms): refused like denied ones meanwhile.
    const penalised = new Map<string, number>();
    const isDenied = (peer: PeerId) => {
      const id = peer.toString();
      if (denied.has(id)) return true;
      const until = penalised.get(id);
      if (until === undefined) return false;
      if (until > Date.now()) return true;
      penalised.delete(id);
      return false;
    };
    const chainTopics = [`/brop/${opts.chainId}/consensus/1`, `/brop/${opts.chainId}/txs/1`];
    // Only invalid deliveries count (P4); the other topic score terms are off: a consortium's topics are
    // quiet between blocks, and delivery-rate terms would punish honest peers for that.
    const invalidOnly = createTopicScoreParams({
      topicWeight: 1, timeInMeshWeight: 0, firstMessageDeliveriesWeight: 0, meshMessageDeliveriesWeight: 0, meshFailurePenaltyWeight: 0,
      invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT, invalidMessageDeliveriesDecay: 0.9,
    });
    const privateKey = await peerKey(opts.peerKeyFile);
    refuseSelf(opts.peers ?? [], peerIdFromPrivateKey(privateKey).toString(), opts.peerKeyFile);
    grantYamuxCreditInHalves();
    const libp2p = await createLibp2p({
      privateKey,
      addresses: { listen: opts.listen ?? ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [coalescedWrites(noise())],
      streamMuxers: [yamux()],
      connectionManager: { maxConnections: opts.maxConnections ?? 64 },
      // Inbound connections reveal their peer id once encrypted: refused there; dials before they start.
      connectionGater: {
        denyDialPeer: isDenied,
        denyInboundEncryptedConnection: isDenied,
        denyOutboundEncryptedConnection: isDenied,
      },
      services: {
        identify: identify(),
        ping: ping(),
        // A consortium has few peers: publish even before the mesh forms. Messages are not signed again by
        // libp2p (StrictNoSign: ids are content hashes): consensus messages carry a validator's signature
        // and transactions their sender's, and a second signature per message per peer cost more than
        // everything else the network did.
        // The largest proposal (a block of maxBlockBytes of transactions, plus framing) must fit a gossip frame.
        pubsub: gossipsub({
          allowPublishToZeroTopicPeers: true, emitSelf: false, fallbackToFloodsub: false, globalSignaturePolicy: StrictNoSign,
          // This node says when a message is forwarded (below): consensus messages at once, transaction
          // batches a little later.
          asyncValidation: true,
          // IDONTWANT for anything the size of one transaction or more (votes are smaller): what makes the
          // delayed forwarding of transaction batches skip the peers that have them.
          idontwantMinDataSize: 200,
          scoreParams: { topics: Object.fromEntries(chainTopics.map((t) => [t, invalidOnly])) },
          scoreThresholds: { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: GRAYLIST_SCORE },
          maxInboundDataLength: (opts.maxBlockBytes ?? 8 * 1024 * 1024) * 2 + 1024 * 1024,
        }),
      },
    });
    const net = new P2pNetwork(libp2p, opts, denied, penalised);
    const pubsub = libp2p.services.pubsub;
    // Ignore, not reject: what a denied peer forwarded before its connection closed is dropped without
    // touching scores (it may be a valid message that others forward too).
    // What a validator decoded is handed on with the message (the same data object), not decoded again.
    const decoded = new WeakMap<Uint8Array, ConsensusMessage | CompactProposal | Uint8Array[]>();
    pubsub.topicValidators.set(net.consensusTopic, (peer, msg) => {
      if (isDenied(peer)) return TopicValidatorResult.Ignore;
      try {
        const m = decodeConsensusMessage(msg.data);
        decoded.set(msg.data, m);
        if (!opts.isValidator(hex(accountAddress(m.publicKey)))) return TopicValidatorResult.Ignore;
        if (m.kind !== 'vote') {
          const h = opts.height?.();
          if (h !== undefined && (m.height <= h || m.height > h + 2n)) return TopicValidatorResult.Ignore;
          // The body must be what the signed header names: a peer that changed it is rejected here.
          if (!wellFormedProposal(m, net.maxBlockTxs)) return TopicValidatorResult.Reject;
        }
        return validlySigned(m, opts.chainId) ? TopicValidatorResult.Accept : TopicValidatorResult.Reject;
      } catch {
        return TopicValidatorResult.Reject;
      }
    });
    pubsub.topicValidators.set(net.txTopic, (peer, msg) => {
      if (isDenied(peer)) return TopicValidatorResult.Ignore;
      try {
        decoded.set(msg.data, decodeTxBatch(msg.data));
        return TopicValidatorResult.Accept;
      } catch {
        return TopicValidatorResult.Reject;
      }
    });
    pubsub.subscribe(net.consensusTopic);
    pubsub.subscribe(net.txTopic);
    // Messages through the event that names the peer a message came from (a compact proposal fetches the
    // transactions this node lacks from that peer) and its id (this node reports when to forward it).
    pubsub.addEventListener('gossipsub:message', (evt) => {
      const { msg, propagationSource, msgId } = evt.detail;
      const forward = () => {
        try {
          (pubsub as unknown as GossipSubClass).reportMessageValidationResult(msgId, propagationSource.toString(), TopicValidatorResult.Accept);
        } catch {
          // not forwarded (the network stopped meanwhile, say): peers have the resends; delivery goes on
        }
      };
      if (msg.topic === net.txTopic) {
        let txs: Uint8Array[];
        try {
          txs = (decoded.get(msg.data) as Uint8Array[] | undefined) ?? decodeTxBatch(msg.data);
        } catch {
          return;
        }
        for (const tx of txs) for (const r of net.txReceivers) r(tx);
        // A batch is forwarded TX_FORWARD_DELAY_MS after it arrives, not at once: by then the peers that
        // had it from its publisher too have said so (a copy of their own, or IDONTWANT) and gossipsub
        // leaves them out. Where everyone is connected to everyone, as validators are, nobody is left
        // to send it to; where not, the others still get it. The forward waits for an immediate too:
        // Node runs due timers before reading sockets, so a node whose loop was busy (executing a
        // block) would otherwise forward before reading the IDONTWANTs already waiting for it.
        setTimeout(() => setImmediate(forward), TX_FORWARD_DELAY_MS).unref();
        return;
      }
      if (msg.topic !== net.consensusTopic) return;
      forward();
      let m: ConsensusMessage | CompactProposal;
      try {
        m = (decoded.get(msg.data) as ConsensusMessage | CompactProposal | undefined) ?? decodeConsensusMessage(msg.data);
      } catch {
        return;
      }
      if (m.kind === 'compact') {
        const id = hex(m.signature);
        if (net.rebuilt.has(id)) return;
        net.rebuilt.add(id);
        if (net.rebuilt.size > REBUILT_KEPT) net.rebuilt.delete(net.rebuilt.values().next().value!);
        void net.rebuild(m, propagationSource).then((full) => {
          if (full) net.deliver(full);
          else net.rebuilt.delete(id); // not rebuilt: the proposer's next sending may succeed
        });
      } else net.deliver(m);
    });
    await libp2p.handle(net.syncProtocol, async (stream) => {
      try {
        const lp = lpStream(stream, { maxDataLength: 64 * 1024 });
        const req = decode({ struct: 'SyncRequest' }, (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray(), WIRE) as { from: bigint; max: number };
        const { height, blocks } = net.serve?.(req.from, Math.min(req.max, MAX_SYNC_RESPONSE)) ?? { height: 0n, blocks: [] };
        await lp.write(encode({ struct: 'SyncHead' }, { height, count: blocks.length }, WIRE));
        for (const b of blocks) await lp.write(encode({ struct: 'SyncedBlock' }, b, WIRE));
        await stream.close();
      } catch {
        stream.abort(new Error('bad sync request'));
      }
    });
    await libp2p.handle(net.txProtocol, async (stream) => {
      try {
        const limit = net.maxBlockTxs * 32 + 1024;
        const lp = lpStream(stream, { maxDataLength: limit, maxBufferSize: limit });
        const { hashes } = decode({ struct: 'TxRequest' }, (await lp.read({ signal: AbortSignal.timeout(10_000) })).subarray(), WIRE) as { hashes: Uint8Array[] };
        if (hashes.length > net.maxBlockTxs) throw new RangeError('too many hashes');
        // At most a block's bytes per answer: what is left out is asked for again (of this peer or another).
        let bytes = 0;
        const txs = hashes.map((h) => {
          const tx = net.knownTx(hex(h));
          if (!tx || bytes + tx.length > net.maxBlockBytes) return new Uint8Array(0);
          bytes += tx.length;
          return tx;
        });
        await lp.write(encode({ struct: 'TxResponse' }, { txs }, WIRE), { signal: AbortSignal.timeout(10_000) });
        await stream.close();
      } catch {
        stream.abort(new Error('bad transaction request'));
      }
    });
    await net.dialPeers();
    net.redial = setInterval(() => void net.dialPeers(), 2000);
    net.scoring = setInterval(() => void net.disconnectGraylisted(), 500);
    return net;
  }

  /** Peers gossipsub has graylisted for invalid messages are disconnected and refused for `penaltyMs`. */
  private async disconnectGraylisted(): Promise<void> {
    const pubsub = this.libp2p.services.pubsub as unknown as GossipSubClass;
    for (const peer of this.libp2p.getPeers()) {
      const id = peer.toString();
      const score = pubsub.getScore(id);
      if (score > GRAYLIST_SCORE || (this.penalised.get(id) ?? 0) > Date.now()) continue; // fine, or being disconnected
      this.penalised.set(id, Date.now() + this.penaltyMs);
      this.log({ event: 'peer-penalised', peer: id, score: Math.round(score), reason: 'invalid gossip', refusedForMs: this.penaltyMs });
      await this.libp2p.hangUp(peer).catch(() => undefined);
    }
  }

  /** Peers disconnected for invalid gossip and still refused. */
  penalisedPeers(): string[] {
    const now = Date.now();
    return [...this.penalised].filter(([, until]) => until > now).map(([id]) => id);
  }

  private deliver(m: ConsensusMessage): void {
    for (const r of this.consensusReceivers) r(m);
  }

  private knownTx(hashHex: string): Uint8Array | undefined {
    return this.pooledTx?.(hashHex) ?? this.proposalTxs.get(hashHex);
  }

  private keepProposalTx(hashHex: string, tx: Uint8Array): void {
    const had = this.proposalTxs.get(hashHex);
    if (had) this.proposalTxBytes -= had.length;
    this.proposalTxs.delete(hashHex);
    this.proposalTxs.set(hashHex, tx);
    this.proposalTxBytes += tx.length;
    while (this.proposalTxBytes > PROPOSAL_TX_BYTES_KEPT) {
      const [oldest, bytes] = this.proposalTxs.entries().next().value!;
      this.proposalTxs.delete(oldest);
      this.proposalTxBytes -= bytes.length;
    }
  }

  /**
   * The full proposal of a compact one: its transactions from the pool, the missing ones asked of the
   * peer that sent it (then of the others). Undefined if some cannot be found: the proposer sends its
   * proposal again, and the round may time out meanwhile, as with a lost message.
   */
  private async rebuild(c: CompactProposal, from: PeerId): Promise<ConsensusMessage | undefined> {
    // What is here now is taken now: the pool may drop a transaction while the rest is fetched.
    const txs: Array<Uint8Array | undefined> = [];
    const lacking = () => c.txHashes.filter((_, i) => (txs[i] ??= this.knownTx(hex(c.txHashes[i]!))) === undefined);
    let missing = lacking();
    // Those being fetched ahead for a plan (prefetch) are waited for, a little: a peer that never answers
    // holds a prefetch up to FETCH_DEADLINE_MS, and must not hold proposals that long.
    const ahead = new Set(missing.flatMap((h) => this.prefetching.get(hex(h)) ?? []));
    if (ahead.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(ahead), new Promise((resolve) => { timer = setTimeout(resolve, PREFETCH_WAIT_MS); })]);
      clearTimeout(timer);
      missing = lacking();
    }
    if (missing.length > 0) {
      await this.fetchMissing(missing, [from, ...this.libp2p.getPeers().filter((p) => !p.equals(from))]);
      if (lacking().length > 0) return undefined;
    }
    let block: Uint8Array;
    try {
      block = encodeBlock({ header: decodeHeader(c.header), txs: txs as Uint8Array[], lastCommit: decodeCommit(c.lastCommit) });
    } catch {
      return undefined;
    }
    return { kind: 'proposal', height: c.height, round: c.round, validRound: c.validRound, block, publicKey: c.publicKey, signature: c.signature };
  }

  /**
   * Starts fetching the transactions of a plan consensus took that this node lacks, from its peers in
   * random order (the plan's proposer, busy executing the block, answers late), so that the proposal
   * is rebuilt at once when it comes.
   */
  prefetch(txHashes: readonly Uint8Array[]): void {
    const missing = txHashes.filter((h) => this.knownTx(hex(h)) === undefined && !this.prefetching.has(hex(h)));
    if (missing.length === 0) return;
    const peers = this.shuffledPeers();
    const fetching = this.fetchMissing(missing, peers).finally(() => { for (const h of missing) this.prefetching.delete(hex(h)); });
    for (const h of missing) this.prefetching.set(hex(h), fetching);
  }
  private shuffledPeers(): PeerId[] {
    return this.libp2p.getPeers().map((p) => ({ p, r: Math.random() })).sort((a, b) => a.r - b.r).map((x) => x.p);
  }

  /** Transactions being fetched ahead by prefetch, by hash. */
  private readonly prefetching = new Map<string, Promise<void>>();

  /**
   * Asks `peers` in turn for these transactions, and keeps those it gets (beyond the pool, to serve
   * peers that lack them too). Only the transaction a hash names is taken: a peer cannot slip in
   * another. Never throws; what no peer gave stays missing.
   */
  private async fetchMissing(hashes: Uint8Array[], peers: PeerId[]): Promise<void> {
    let missing = hashes;
    const deadline = AbortSignal.timeout(FETCH_DEADLINE_MS);
    for (const peer of peers) {
      if (missing.length === 0 || deadline.aborted) break;
      if (this.denied.has(peer.toString())) continue;
      try {
        const got = await this.fetchTxs(peer, missing, deadline);
        got.forEach((tx, j) => {
          const h = missing[j]!;
          if (tx.length > 0 && tx.length <= this.maxTxBytes && equalBytes(sha256(tx), h)) this.keepProposalTx(hex(h), tx);
        });
      } catch {
        // that peer could not help: ask the next
      }
      missing = missing.filter((h) => this.knownTx(hex(h)) === undefined);
    }
  }

  private async fetchTxs(peer: PeerId, hashes: Uint8Array[], signal: AbortSignal): Promise<Uint8Array[]> {
    const stream = await this.libp2p.dialProtocol(peer, this.txProtocol, { signal });
    try {
      // An answer holds at most a block's bytes of transactions, plus their framing.
      const limit = this.maxBlockBytes + hashes.length * 8 + 1024;
      const lp = lpStream(stream, { maxDataLength: limit, maxBufferSize: limit });
      await lp.write(encode({ struct: 'TxRequest' }, { hashes }, WIRE), { signal });
      const { txs } = decode({ struct: 'TxResponse' }, (await lp.read({ signal })).subarray(), WIRE) as { txs: Uint8Array[] };
      await stream.close();
      if (txs.length !== hashes.length) throw new RangeError('an answer with another number of transactions');
      return txs;
    } catch (e) {
      stream.abort(e as Error);
      throw e;
    }
  }

  /** This node's addresses to give to its peers (with /p2p/ID). */
  addresses(): string[] {
    return this.libp2p.getMultiaddrs().map((a) => a.toString());
  }

  /** This node's peer id (what other operators put in their deny lists). */
  get peerId(): string {
    return this.libp2p.peerId.toString();
  }

  private async dialPeers(): Promise<void> {
    const connected = new Set(this.libp2p.getPeers().map((p) => p.toString()));
    await Promise.all(this.peers.map(async (p) => {
      const id = p.split('/p2p/')[1];
      if (id && (connected.has(id) || this.denied.has(id))) return;
      try {
        await this.libp2p.dial(multiaddr(p), { signal: AbortSignal.timeout(3000) });
      } catch {
        // not up yet: the next round retries
      }
    }));
  }

  /** More peers to keep connected to. */
  async addPeers(addresses: readonly string[]): Promise<void> {
    refuseSelf(addresses, this.peerId, this.peerKeyFile);
    this.peers = [...new Set([...this.peers, ...addresses])];
    await this.dialPeers();
  }

  connectedPeers(): number {
    return this.libp2p.getPeers().length;
  }

  deniedPeers(): string[] {
    return [...this.denied];
  }

  /**
   * Replaces the deny list: connections to newly denied peers close now; configured peers taken off
   * the list are dialled again at once (not at the next redial round). Throws P2P_BAD_PEER_ID (and
   * changes nothing) if an entry is not a peer id.
   */
  async setDeniedPeers(ids: readonly string[]): Promise<{ denied: string[]; disconnected: string[]; allowed: string[] }> {
    const next = new Set(parsePeerIds(ids));
    const allowed = [...this.denied].filter((id) => !next.has(id));
    this.denied.clear();
    for (const id of next) this.denied.add(id);
    const disconnected = this.libp2p.getPeers().map((p) => p.toString()).filter((id) => next.has(id));
    await Promise.all(disconnected.map((id) => this.libp2p.hangUp(peerIdFromString(id)).catch(() => undefined)));
    if (allowed.length > 0) await this.dialPeers();
    return { denied: [...next], disconnected, allowed };
  }

  /**
   * Settles once gossipsub has handed the message to the peers' streams and the event loop has turned
   * once, which writes it out: a caller about to keep the loop busy (executing a block) waits for that.
   */
  async broadcast(message: ConsensusMessage): Promise<void> {
    await this.libp2p.services.pubsub.publish(this.consensusTopic, this.wire(message)).catch(() => undefined);
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** A proposal goes compact when peers keep pools (its transactions stay servable here); the rest as they are. */
  private wire(m: ConsensusMessage): Uint8Array {
    if (m.kind !== 'proposal' || !this.pooledTx) return encodeConsensusMessage(m);
    let body = this.compacted.get(m);
    if (!body) {
      const block = decodeBlock(m.block);
      const txHashes = block.txs.map((tx) => {
        const h = sha256(tx);
        this.keepProposalTx(hex(h), tx);
        return h;
      });
      const c: CompactProposal = {
        kind: 'compact', height: m.height, round: m.round, validRound: m.validRound, header: encodeHeader(block.header), txHashes,
        lastCommit: encodeCommit(block.lastCommit), publicKey: m.publicKey, signature: m.signature,
      };
      body = encodeConsensusMessage(c).subarray(NONCE);
      this.compacted.set(m, body);
    }
    const out = new Uint8Array(NONCE + body.length);
    out.set(randomBytes(NONCE));
    out.set(body, NONCE);
    return out;
  }

  subscribe(receive: (message: ConsensusMessage) => void): void {
    this.consensusReceivers.push(receive);
  }

  /** Transactions accepted in one turn of the event loop travel as one gossip message. */
  publishTx(bytes: Uint8Array): void {
    this.txOutbox.push(bytes);
    if (this.txOutbox.length === 1) {
      setImmediate(() => {
        const txs = this.txOutbox;
        this.txOutbox = [];
        let batch: Uint8Array[] = [], bytes = 0;
        const flush = () => {
          if (batch.length > 0) void this.libp2p.services.pubsub.publish(this.txTopic, encode({ struct: 'TxBatch' }, { txs: batch }, WIRE)).catch(() => undefined);
          batch = [];
          bytes = 0;
        };
        for (const tx of txs) {
          if (batch.length >= TX_BATCH || bytes + tx.length > TX_BATCH_BYTES) flush();
          batch.push(tx);
          bytes += tx.length;
        }
        flush();
      });
    }
  }
  private txOutbox: Uint8Array[] = [];

  onTx(receive: (bytes: Uint8Array) => void): void {
    this.txReceivers.push(receive);
  }

  serveBlocks(serve: (from: bigint, max: number) => SyncResponse): void {
    this.serve = serve;
  }

  /** `height`: the highest committed height among the peers asked (they report it even without blocks to give). */
  async requestBlocks(from: bigint, max: number): Promise<SyncResponse> {
    // Peers in random order: a peer that answers badly is not asked first every time.
    const peers = this.shuffledPeers();
    let height = 0n;
    for (const peer of peers) {
      if (this.denied.has(peer.toString())) continue;
      try {
        const stream = await this.libp2p.dialProtocol(peer, this.syncProtocol, { signal: AbortSignal.timeout(5000) });
        const lp = lpStream(stream, { maxDataLength: 16 * 1024 * 1024, maxBufferSize: 16 * 1024 * 1024 });
        await lp.write(encode({ struct: 'SyncRequest' }, { from, max: Math.min(max, MAX_SYNC_RESPONSE) }, WIRE));
        const signal = AbortSignal.timeout(30_000);
        const head = decode({ struct: 'SyncHead' }, (await lp.read({ signal })).subarray(), WIRE) as { height: bigint; count: number };
        if (head.height > height) height = head.height;
        const blocks: SyncedBlock[] = [];
        for (let i = 0; i < Math.min(head.count, MAX_SYNC_RESPONSE); i++) blocks.push(decode({ struct: 'SyncedBlock' }, (await lp.read({ signal })).subarray(), WIRE) as SyncedBlock);
        await stream.close();
        if (blocks.length > 0) return { height, blocks };
      } catch {
        // that peer could not help: ask the next
      }
    }
    return { height, blocks: [] };
  }

  async stop(): Promise<void> {
    clearInterval(this.redial);
    clearInterval(this.scoring);
    await this.libp2p.stop();
  }
}
