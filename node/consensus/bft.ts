/**
 * The BFT driver of one validator: runs the Tendermint state machine (tendermint.ts) against a
 * ChainNode and a transport. It signs what the machine decides to send (after the write-ahead log
 * allows it), verifies what arrives (signatures, validator membership), has the node check proposed
 * blocks before the machine may vote for them, turns a decision into a commit certificate and
 * commits the block, and keeps the timers. The transport only moves messages: libp2p gossip in a
 * deployment, an in-memory bus in tests.
 */
import { appendFileSync } from 'node:fs';
import { accountAddress } from '../../contracts/system/index.ts';
import { verifyEd25519Remembered } from '../crypto/ed25519.ts';
import { type Block, type Commit, type CommitSignature, NIL_BLOCK, bodyMatchesHeader, PRECOMMIT, PREVOTE, decodeBlock, decodeCommit, encodeBlock, encodeCommit, headerHash, planSigningPayload, proposalPayload, votePayload } from '../chain/block.ts';
import { equalBytes, fromHex, hex } from '../chain/hash.ts';
import type { BlockPlan, ChainNode, Proposal as NodeProposal } from '../node.ts';
import { verifyCommit } from '../chain/commit.ts';
import { type ConsensusAction, type ConsensusEvent, type TimeoutConfig, TendermintMachine, type Vote, DEFAULT_TIMEOUTS } from './tendermint.ts';
import type { ConsensusWal } from './wal.ts';
import { type Equivocation, type SignedStatement, evidenceJson } from './evidence.ts';
import type { Signer } from '../keys/signer.ts';
import { type StatusLine, SyncProgress } from './sync-progress.ts';

/** What validators send each other. Bytes travel as they are; the transport frames them. */
export type ConsensusMessage =
  | { kind: 'proposal'; height: bigint; round: number; validRound: number; block: Uint8Array; publicKey: Uint8Array; signature: Uint8Array }
  | { kind: 'vote'; type: 'prevote' | 'precommit'; height: bigint; round: number; blockHash: Uint8Array; publicKey: Uint8Array; signature: Uint8Array }
  | PlanMessage;

/**
 * What the round's proposer is about to execute into its block (node.ts, BlockPlan), sent before it
 * does: the others execute the same plan meanwhile, so that a proposal's check is a comparison of
 * hashes. Only a hint: a proposal is never valid because of a plan, and a plan signs nothing to vote
 * on. `lastCommit` is the encoded commit the block will carry.
 */
export interface PlanMessage { kind: 'plan'; height: bigint; round: number; time: bigint; txHashes: Uint8Array[]; lastCommit: Uint8Array; publicKey: Uint8Array; signature: Uint8Array }

/** A committed block as block sync carries it: canonical block bytes and its commit certificate. */
export interface SyncedBlock { block: Uint8Array; commit: Uint8Array }

/** A block sync answer: blocks (possibly none) and the answering peer's committed height (the sync's target). */
export interface SyncResponse { height: bigint; blocks: SyncedBlock[] }

export interface ConsensusTransport {
  /** Sends to every peer; what it returns settles once the message has left this node (as far as the transport knows). */
  broadcast(message: ConsensusMessage): Promise<void> | void;
  /** Registers the receiver of every message from other validators. */
  subscribe(receive: (message: ConsensusMessage) => void): void;
  /** Starts fetching the transactions a taken plan names that this node lacks (a transport without pools does nothing). */
  prefetch?(txHashes: readonly Uint8Array[]): void;
  /** Block sync: asks peers for committed blocks from `from` on (at most `max`); none if no peer has them. */
  requestBlocks(from: bigint, max: number): Promise<SyncResponse>;
  /** Registers what this node answers to others' block requests. */
  serveBlocks(serve: (from: bigint, max: number) => SyncResponse): void;
}

const SYNC_BATCH = 64;
/** Blocks smaller than this go without a plan: executing them takes little, one validator after another or not. */
const PLAN_MIN_TXS = 64;

/** Evidence kept in memory for consensus_evidence (the newest; the evidence file keeps all). */
const EVIDENCE_KEPT = 10_000;

const MAX_FUTURE_MESSAGES = 10_000;
const MAX_SEEN = 100_000;

export class BftConsensus {
  private readonly node: ChainNode;
  /** undefined: a full node, following consensus without a vote. */
  private readonly key: Signer | undefined;
  private readonly transport: ConsensusTransport;
  private readonly wal: ConsensusWal;
  private readonly timeouts: TimeoutConfig;
  private readonly self: string;
  private machine: TendermintMachine;
  /** Blocks this node has executed at the current height, by hash: proposals it may vote for and commit. */
  private blocks = new Map<string, NodeProposal>();
  /** Blocks executed from the current height's plans, by hash: what their proposals, if they keep to the plans, will carry. */
  private planned = new Map<string, NodeProposal>();
  /** Rounds of the current height whose proposer's plan came (valid, if not necessarily executable here): its propose timeout waits once more. */
  private plannedRounds = new Set<number>();
  /** Signatures of the precommits seen at the current height, for the commit certificate. */
  private precommitSignatures = new Map<string, { publicKey: Uint8Array; signature: Uint8Array }>();
  /** This height's signed statements by what they say (see statementKey): evidence needs the first one's signature too. */
  private signatures = new Map<string, { publicKey: Uint8Array; signature: Uint8Array; validRound?: number }>();
  /** Proposer|round slots of this height whose double proposal is filed already. */
  private proposalEvidence = new Set<string>();
  /** Own messages of the current height, sent again when the height lasts (a restarted peer, a lost message), with when each last went out (ms). */
  private sent: Array<{ message: ConsensusMessage; at: number }> = [];
  private future: ConsensusMessage[] = [];
  /** Messages already taken in at the current height (one proposal per round, one vote per slot and block). */
  private seen = new Set<string>();
  /** The block each proposer proposed in each round of the current height. */
  private proposals = new Map<string, string>();
  /**
   * The last block this node decided, with the precommits for it, including those arriving after the
   * decision: the next block carries them as its parent's commit (governance judges liveness by them).
   */
  private decided: { height: bigint; round: number; blockHash: Uint8Array; validators: readonly string[]; signatures: Map<string, CommitSignature> } | undefined;
  /** A block decided here that still lacks certificate signatures, or the block itself (after a restart): committed when they come. */
  private awaiting: { height: bigint; round: number; block: string; proposal: NodeProposal | undefined } | undefined;
  /** This validator's turn to propose, replayed from the log without a proposal made before the restart. */
  private unmadeProposal: Extract<ConsensusAction, { kind: 'propose' }> | undefined;
  private syncing = false;
  /**
   * When this node last had word of the chain going on: a block committed, or a current-height message
   * from one of its validators. A node that hears nothing for `staleMs` (no peers, wrong peers, another
   * chain's) cannot tell how far behind it is, so it answers NODE_BEHIND rather than judge
   * validUntilBlock against a height that may be long past (SPEC C4).
   */
  private lastHeard = Date.now();
  private readonly staleMs: number;
  private staleTimer: ReturnType<typeof setInterval> | undefined;
  private readonly heard = (): void => {
    this.lastHeard = Date.now();
    this.updateBehind();
  };
  private timers = new Set<NodeJS.Timeout>();
  private gossipTimer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private stopped = true;
  /** The newest evidence of equivocation (EVIDENCE_KEPT); `evidenceCount` counts all since the start. */
  readonly evidence: Equivocation[] = [];
  private evidenceCount = 0;
  private readonly onError: (e: Error) => void;

  private readonly log: (event: Record<string, unknown>) => void;
  private readonly evidenceFile: string | undefined;
  private readonly statusLine: StatusLine | undefined;

  constructor(node: ChainNode, key: Signer | undefined, transport: ConsensusTransport, wal: ConsensusWal, opts: {
    timeouts?: TimeoutConfig;
    onError?: (e: Error) => void;
    /** Progress and evidence lines (sync progress, equivocations). */
    log?: (event: Record<string, unknown>) => void;
    /** Where equivocation evidence is kept (appended, one JSON line each). */
    evidenceFile?: string;
    /** A terminal's status line for the block sync progress bar. */
    statusLine?: StatusLine;
    /** Silence after which the node counts itself behind (default: four heights' worth of timeouts, at least 10 s). */
    staleMs?: number;
  } = {}) {
    this.node = node;
    this.key = key;
    this.transport = transport;
    this.wal = wal;
    this.timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
    // A live network sends every validator's votes at least each prevote timeout (own votes are sent again).
    const t = this.timeouts;
    this.staleMs = opts.staleMs ?? Math.max(10_000, 4 * (node.params.blockTimeMs + t.proposeMs + t.prevoteMs + t.precommitMs));
    this.self = key ? hex(accountAddress(key.publicKey)) : '';
    this.machine = new TendermintMachine(this.self, node.validators.map(hex), this.timeouts);
    this.onError = opts.onError ?? ((e) => console.error(`consensus: ${e.message}`));
    this.log = opts.log ?? (() => undefined);
    this.evidenceFile = opts.evidenceFile;
    this.statusLine = opts.statusLine;
    transport.subscribe((m) => this.enqueue(() => this.receive(m)));
    transport.serveBlocks((from, max) => {
      const out: SyncedBlock[] = [];
      for (let h = from; h <= node.height && out.length < Math.min(max, SYNC_BATCH); h++) {
        const b = node.block(h);
        if (b) out.push({ block: encodeBlock(b.block), commit: encodeCommit(b.commit) });
      }
      return { height: node.height, blocks: out };
    });
  }

  /** Everything runs one step at a time, in arrival order: the machine is not re-entrant. */
  private enqueue(step: () => Promise<void> | void): void {
    this.queue = this.queue.then(() => (this.stopped ? undefined : step())).catch((e: Error) => this.onError(e));
  }

  private schedule(ms: number, step: () => Promise<void> | void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.enqueue(step);
    }, Math.max(0, ms));
    this.timers.add(t);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.lastHeard = Date.now(); // the network gets its chance to be heard from first
    this.node.on('block', this.heard);
    this.staleTimer = setInterval(() => this.updateBehind(), 1000);
    this.staleTimer.unref?.();
    this.enqueue(() => this.startHeight(this.node.height + 1n, true));
    // Own messages go out again for peers that missed them, once they have gone a while without the
    // height ending: a vote a prevote timeout after it last went out, a proposal (a whole block, which
    // costs every peer its decoding) half a propose timeout after, so that a lost copy can still arrive
    // within the round. Most heights end before either.
    this.gossipTimer = setInterval(() => {
      const now = Date.now();
      for (const s of this.sent) {
        if (now - s.at < (s.message.kind === 'vote' ? this.timeouts.prevoteMs : this.timeouts.proposeMs / 2)) continue;
        s.at = now;
        this.broadcast(s.message);
      }
    }, this.timeouts.prevoteMs / 2);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.gossipTimer);
    clearInterval(this.staleTimer);
    this.node.off('block', this.heard);
    await this.queue;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.wal.close();
  }

  get height(): bigint {
    return this.machine.height;
  }

  /** Behind while syncing, or while nothing has been heard of the chain for staleMs. */
  private updateBehind(): void {
    this.node.behind = this.syncing || Date.now() - this.lastHeard > this.staleMs;
  }

  /** Where consensus is: for operators (RPC consensus_status). */
  status(): { height: bigint; round: number; step: string; validator: boolean; lockedRound: number; evidence: number } {
    return { height: this.machine.height, round: this.machine.round, step: this.machine.step, validator: !this.machine.observer, lockedRound: this.machine.lockedRound, evidence: this.evidenceCount };
  }

  private async startHeight(height: bigint, replay: boolean): Promise<void> {
    // A timer set before a sync may fire for a height already behind us: consensus only ever runs the next one.
    if (height !== this.node.height + 1n || (this.machine.height === height && !replay)) return;
    this.blocks.clear();
    this.planned.clear();
    this.plannedRounds.clear();
    this.awaiting = undefined;
    this.seen.clear();
    this.proposals.clear();
    this.precommitSignatures.clear();
    this.signatures.clear();
    this.proposalEvidence.clear();
    this.sent = [];
    if (!replay) this.wal.startHeight(height);
    const events = replay ? this.wal.eventsAt(height) : [];
    // The blocks of the proposals taken before a restart, executed again (the machine may be locked on
    // one of them, and if every validator restarted, no peer has it any more), and the precommit
    // signatures gathered (a decision the events replay needs its certificate).
    if (replay) {
      for (const s of this.wal.precommitsAt(height)) {
        this.precommitSignatures.set(`${s.validator}|${s.round}|${s.block}`, { publicKey: s.publicKey, signature: s.signature });
        // A conflicting precommit arriving after the restart is evidence with this one's signature.
        this.signatures.set(statementKey('precommit', s.validator, s.round, s.block), { publicKey: s.publicKey, signature: s.signature });
      }
      for (const bytes of this.wal.blocksAt(height)) {
        try {
          const p = await this.node.checkProposal(decodeBlock(bytes));
          this.blocks.set(hex(p.hash), p);
        } catch (e) {
          // not valid here after all: as if it had never arrived
          this.log({ event: 'replayed-block-refused', height, message: (e as Error).message });
        }
      }
    }
    this.machine = new TendermintMachine(this.self, this.node.validators.map(hex), this.timeouts);
    if (events.length === 0) {
      await this.feed({ kind: 'start', height });
    } else {
      // A restart: the machine comes back as it was; what it says now was already said (and signed once).
      this.unmadeProposal = undefined;
      for (const e of events) await this.act(this.machine.handle(e), true);
      const unmade = this.unmadeProposal as Extract<ConsensusAction, { kind: 'propose' }> | undefined;
      this.unmadeProposal = undefined;
      if (unmade && this.node.height < unmade.height && this.machine.round === unmade.round && this.machine.step === 'propose') await this.act([unmade], false);
    }
    const early = this.future.filter((m) => m.height === height);
    this.future = this.future.filter((m) => m.height > height);
    for (const m of early) await this.receive(m);
  }

  private async feed(e: ConsensusEvent): Promise<void> {
    if (this.stopped) return;
    this.wal.record(this.machine.height < 0n ? (e as { height: bigint }).height : this.machine.height, e);
    await this.act(this.machine.handle(e), false);
  }

  private async receive(m: ConsensusMessage): Promise<void> {
    if (this.stopped) return;
    if (m.height < this.machine.height) {
      this.lateCommitSignature(m);
      return;
    }
    if (m.height > this.machine.height) {
      // Only the next height's messages wait here (they arrive while this one's block is being stored);
      // a node further behind fetches the missed blocks with their certificates.
      if (m.height === this.machine.height + 1n && this.future.length < MAX_FUTURE_MESSAGES) this.future.push(m);
      if (m.height > this.node.height + 1n) await this.sync();
      return;
    }
    const validator = hex(accountAddress(m.publicKey));
    if (!this.machine.validators.includes(validator)) return;
    this.heard();
    if (m.kind === 'plan') return this.takePlan(m, validator);
    // The same message again (resent, or replayed by a peer with a new gossip nonce) does nothing.
    // A proposal is told apart by its signature: a second, different proposal for the slot is evidence.
    const id = m.kind === 'vote' ? `v|${m.type}|${validator}|${m.round}|${hex(m.blockHash)}` : `p|${validator}|${m.round}|${hex(m.signature)}`;
    if (this.seen.has(id)) return;
    if (this.seen.size >= MAX_SEEN) return;
    let block: Block | undefined;
    if (m.kind === 'proposal') {
      if (validator !== this.machine.proposer(m.height, m.round)) return;
      try {
        block = decodeBlock(m.block);
      } catch {
        return;
      }
      // A relay can change what the signature does not cover (transactions, carried commit): such a
      // copy is dropped before it is taken in, so the proposer's own copy still counts when it arrives.
      if (!bodyMatchesHeader(block)) return;
    }
    this.seen.add(id);
    if (m.kind === 'vote') {
      const blockHash = m.blockHash;
      const payload = votePayload(this.node.params.chainId, m.type === 'prevote' ? PREVOTE : PRECOMMIT, m.height, m.round, blockHash);
      if (!verifyEd25519Remembered(m.publicKey, payload, m.signature)) return;
      const block = isNil(blockHash) ? null : hex(blockHash);
      this.signatures.set(statementKey(m.type, validator, m.round, block), { publicKey: m.publicKey, signature: m.signature });
      if (m.type === 'precommit' && block !== null) {
        this.precommitSignatures.set(`${validator}|${m.round}|${block}`, { publicKey: m.publicKey, signature: m.signature });
        // Kept with the events, so that a decision the log replays after a restart still has its certificate.
        if (m.height === this.machine.height) this.wal.recordPrecommit(m.height, { round: m.round, block, validator, publicKey: m.publicKey, signature: m.signature });
        this.lateCommitSignature(m); // the height may be decided already: then it goes into the carried commit
        if (await this.commitAwaited(m.height, m.round, block)) return;
      }
      await this.feed({ kind: 'vote', vote: { type: m.type, height: m.height, round: m.round, block, validator } });
      return;
    }
    if (!block) return; // a proposal: decoded and checked above
    const blockId = hex(headerHash(block.header));
    if (!verifyEd25519Remembered(m.publicKey, proposalPayload(this.node.params.chainId, m.height, m.round, m.validRound, fromHex(blockId, 32)!), m.signature)) return;
    // One proposal per proposer and round: the first is the one; a signed second for another block is kept as evidence.
    const slot = `${validator}|${m.round}`;
    const first = this.proposals.get(slot);
    if (first === undefined) this.signatures.set(statementKey('proposal', validator, m.round, blockId), { publicKey: m.publicKey, signature: m.signature, validRound: m.validRound });
    else {
      // Filed once per proposer and round, as votes are: a third, fourth... block proves nothing more.
      if (first !== blockId && !this.proposalEvidence.has(slot)) {
        this.proposalEvidence.add(slot);
        const at = { type: 'proposal' as const, height: m.height, round: m.round, validator };
        const kept = this.signatures.get(statementKey('proposal', validator, m.round, first))!;
        this.recordEvidence({
          first: { ...at, block: first, validRound: kept.validRound!, publicKey: hex(kept.publicKey), signature: hex(kept.signature) },
          second: { ...at, block: blockId, validRound: m.validRound, publicKey: hex(m.publicKey), signature: hex(m.signature) },
        });
      }
      return;
    }
    this.proposals.set(slot, blockId);
    // The block names its maker: the signer of a new proposal, or for a re-proposal (validRound >= 0)
    // the proposer of a round up to validRound that made it. A proposer naming another validator (to
    // keep a dead one looking live to governance, say) makes an invalid proposal.
    const maker = hex(block.header.proposer);
    const honestMaker = m.validRound < 0 ? maker === validator : Array.from({ length: m.validRound + 1 }, (_, r) => this.machine.proposer(m.height, r)).includes(maker);
    let valid = honestMaker && this.blocks.has(blockId);
    if (honestMaker && !valid) {
      try {
        // The block this node made from the proposer's plan, if the proposal keeps to it: the same hash
        // is the same header, so the same transactions, parent, time and carried commit, all checked.
        this.blocks.set(blockId, this.planned.get(blockId) ?? await this.node.checkProposal(block));
        this.wal.recordBlock(m.height, blockId, m.block);
        valid = true;
      } catch (e) {
        // The operator must hear of it: a proposal refused by honest nodes costs the chain a round.
        this.log({ event: 'proposal-rejected', height: m.height, round: m.round, proposer: validator, code: (e as { code?: string }).code ?? 'INVALID', message: (e as Error).message });
        valid = false;
      }
    }
    const w = this.awaiting;
    if (valid && w && w.block === blockId && !w.proposal) {
      w.proposal = this.blocks.get(blockId);
      if (await this.commitAwaited(m.height, w.round, blockId)) return;
    }
    await this.feed({ kind: 'proposal', proposal: { height: m.height, round: m.round, block: blockId, validRound: m.validRound, proposer: validator }, valid });
  }

  /**
   * The round's proposer's plan for its block: checked and executed here while the proposer executes it
   * (see PlanMessage). One per proposer and round; a plan for a round already behind is of no use. A
   * plan with a transaction this pool lacks is left: its proposal is checked when it comes. Either way
   * the round's propose timeout waits once more (see the timeout action).
   */
  private async takePlan(m: PlanMessage, validator: string): Promise<void> {
    // The current round's or the next (a node a little behind the proposer in rounds); not one whose proposal came already.
    if (validator !== this.machine.proposer(m.height, m.round) || m.round < this.machine.round || m.round > this.machine.round + 1) return;
    if (m.height !== this.node.height + 1n || this.syncing || this.proposals.has(`${validator}|${m.round}`)) return;
    const slot = `l|${validator}|${m.round}`;
    if (this.seen.has(slot) || this.seen.size >= MAX_SEEN) return;
    let lastCommit: Commit;
    try {
      lastCommit = decodeCommit(m.lastCommit);
    } catch {
      return;
    }
    if (!verifyEd25519Remembered(m.publicKey, planSigningPayload(this.node.params.chainId, m), m.signature)) return;
    this.seen.add(slot);
    try {
      this.plannedRounds.add(m.round);
      const p = await this.node.checkPlan({ height: m.height, time: m.time, proposer: accountAddress(m.publicKey), txHashes: m.txHashes, lastCommit });
      this.planned.set(hex(p.hash), p);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'NOT_FOUND') {
        this.transport.prefetch?.(m.txHashes);
        return;
      }
      this.plannedRounds.delete(m.round); // an invalid plan: its proposal is unlikely to be valid either
      this.log({ event: 'plan-rejected', height: m.height, round: m.round, proposer: validator, code: code ?? 'INVALID', message: (e as Error).message });
    }
  }

  /** Sends this node's plan for its block in `round` (see PlanMessage), and waits until it has left. */
  private async sendPlan(round: number, plan: BlockPlan): Promise<void> {
    const key = this.key!;
    const fields = { height: plan.height, round, time: plan.time, txHashes: plan.txs.map((t) => t.hash), lastCommit: encodeCommit(plan.lastCommit) };
    await this.transport.broadcast({ kind: 'plan', ...fields, publicKey: key.publicKey, signature: key.sign(planSigningPayload(this.node.params.chainId, fields)) });
  }

  /** Commits the awaited decision if it is this one and now has its block and enough signatures. */
  private async commitAwaited(height: bigint, round: number, block: string): Promise<boolean> {
    const w = this.awaiting;
    if (!w?.proposal || w.height !== height || w.round !== round || w.block !== block) return false;
    return this.commitDecided(w.height, w.round, w.block, w.proposal);
  }

  /** A precommit for the block just decided, arriving after the decision: kept for the next block's carried commit (checked again: remembered, so cheap). */
  private lateCommitSignature(m: ConsensusMessage): void {
    const d = this.decided;
    if (!d || m.kind !== 'vote' || m.type !== 'precommit' || m.height !== d.height || m.round !== d.round || !equalBytes(m.blockHash, d.blockHash)) return;
    const validator = hex(accountAddress(m.publicKey));
    if (d.signatures.has(validator) || !d.validators.includes(validator)) return;
    if (!verifyEd25519Remembered(m.publicKey, votePayload(this.node.params.chainId, PRECOMMIT, m.height, m.round, m.blockHash), m.signature)) return;
    d.signatures.set(validator, { publicKey: m.publicKey, signature: m.signature });
  }

  /**
   * Block sync: downloads committed blocks from peers, checks each (executes it: the header must be
   * what executing it gives) and its commit certificate, commits them, and restarts consensus at the
   * new height. While it runs the node answers NODE_BEHIND to transactions.
   */
  private async sync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    const start = this.node.height;
    const progress = new SyncProgress({ from: start, line: this.statusLine, log: this.log });
    this.node.behind = true;
    try {
      while (!this.stopped) {
        const before = this.node.height;
        const { blocks: got, height: target } = await this.transport.requestBlocks(before + 1n, SYNC_BATCH);
        for (const s of got) {
          const block = decodeBlock(s.block);
          if (block.header.height !== this.node.height + 1n) break;
          // The certificate first: executing a block costs more than checking its signatures.
          const commit = decodeCommit(s.commit);
          verifyCommit(block.header, commit, this.node.validators);
          const checked = await this.node.checkProposal(block);
          await this.node.commitBlock(checked, commit);
          progress.update(this.node.height, target);
        }
        // Nothing new (no peer has more, or a peer answered with blocks that do not follow): stop here.
        if (this.node.height === before || got.length < SYNC_BATCH) break;
      }
      if (this.node.height > start) this.log({ event: 'sync', height: this.node.height, from: start, target: progress.target });
    } catch (e) {
      this.log({ event: 'sync-failed', height: this.node.height, message: (e as Error).message });
    } finally {
      progress.finish();
      this.syncing = false;
      this.updateBehind();
      if (this.node.height > start) await this.startHeight(this.node.height + 1n, false);
    }
  }

  /** Carries out the machine's actions. `replayed`: they were carried out before a restart. */
  private async act(actions: ConsensusAction[], replayed: boolean): Promise<void> {
    for (const a of actions) {
      switch (a.kind) {
        case 'propose': {
          if (!this.key) break;
          if (replayed) {
            // The proposal made before the restart goes out again (peers may have missed it), if its
            // block came back from the log; it is among the replayed events already.
            const made = this.wal.proposalAt(a.height, a.round);
            const p = made === undefined ? undefined : this.blocks.get(made.block);
            if (p && made) {
              const validRound = made.validRound;
              this.send({
                kind: 'proposal', height: a.height, round: a.round, validRound, block: encodeBlock(p.block), publicKey: this.key.publicKey,
                signature: this.key.sign(proposalPayload(this.node.params.chainId, a.height, a.round, validRound, p.hash)),
              });
            }
            // Not made before the crash: made once the replay is over, if the round is still waiting for it.
            if (!made) this.unmadeProposal = a;
            break;
          }
          let p: NodeProposal | undefined = a.block ? this.blocks.get(a.block) : undefined;
          let validRound = a.validRound;
          if (!p) {
            // A quarter of the round's propose timeout for executing the block here leaves the others
            // time to receive it, execute it in turn and vote before they give up on the round.
            const budgetMs = (this.timeouts.proposeMs + a.round * this.timeouts.deltaMs) / 4;
            const d = this.decided;
            const lastCommit = d && d.height === this.node.height ? { height: d.height, round: d.round, blockHash: d.blockHash, signatures: [...d.signatures.values()] } : undefined;
            const plan = this.node.planBlock(accountAddress(this.key.publicKey), { budgetMs, lastCommit });
            // The plan first: the others execute it while this node does, not after.
            if (plan.txs.length >= PLAN_MIN_TXS) await this.sendPlan(a.round, plan);
            p = this.node.makeBlock(plan);
            this.blocks.set(hex(p.hash), p);
            validRound = -1; // a new block: no earlier round vouches for it
          }
          const blockId = hex(p.hash);
          const block = encodeBlock(p.block);
          // The block before the claim: the claim's sync carries it to disk, so that a proposer restarted
          // after claiming has the block to send again.
          this.wal.recordBlock(a.height, blockId, block, true);
          if (!this.wal.claimProposal(a.height, a.round, blockId, validRound)) break; // already proposed another block for this round
          const message: ConsensusMessage = {
            kind: 'proposal', height: a.height, round: a.round, validRound, block, publicKey: this.key.publicKey,
            signature: this.key.sign(proposalPayload(this.node.params.chainId, a.height, a.round, validRound, p.hash)),
          };
          this.send(message);
          await this.feed({ kind: 'proposal', proposal: { height: a.height, round: a.round, block: blockId, validRound, proposer: this.self }, valid: true });
          break;
        }
        case 'vote': {
          if (!this.key) break;
          const allowed = this.wal.claimVote(a.vote);
          if (!allowed) break; // would contradict a vote signed before a restart
          const blockHash = a.vote.block === null ? NIL_BLOCK : fromHex(a.vote.block, 32)!;
          const signature = this.key.sign(votePayload(this.node.params.chainId, a.vote.type === 'prevote' ? PREVOTE : PRECOMMIT, a.vote.height, a.vote.round, blockHash));
          if (a.vote.type === 'precommit' && a.vote.block !== null) this.precommitSignatures.set(`${this.self}|${a.vote.round}|${a.vote.block}`, { publicKey: this.key.publicKey, signature });
          this.send({ kind: 'vote', type: a.vote.type, height: a.vote.height, round: a.vote.round, blockHash, publicKey: this.key.publicKey, signature });
          break;
        }
        case 'timeout': {
          let extended = false;
          const fire = (): Promise<void> => {
            if (a.step === 'propose' && this.machine.height === a.height && this.machine.round === a.round && this.machine.step === 'propose') {
              // The proposer's plan came: it is up and executing its block, and this node may still be
              // rebuilding the proposal (fetching transactions its pool lacks). The round waits once more
              // rather than give up on a block about to arrive. A timeout is for liveness only: safety
              // does not depend on when it fires, and a proposer that plans and never proposes costs the
              // round one more timeout.
              if (!extended && this.plannedRounds.has(a.round)) {
                extended = true;
                this.schedule(a.afterMs, fire);
                return Promise.resolve();
              }
              // No proposal in time: the round's proposer is down, slow or cut off (operators look here first).
              this.log({ event: 'round-timeout', height: a.height, round: a.round, step: a.step, proposer: this.machine.proposer(a.height, a.round), afterMs: extended ? 2 * a.afterMs : a.afterMs });
            }
            return this.feed({ kind: 'timeout', height: a.height, round: a.round, step: a.step });
          };
          this.schedule(a.afterMs, fire);
          break;
        }
        case 'decide': {
          const p = this.blocks.get(a.block);
          if (!p && replayed && this.node.height >= a.height) {
            this.startNextHeight(a.height + 1n);
            break;
          }
          if (p && await this.commitDecided(a.height, a.round, a.block, p)) break;
          // Only after a restart: the machine replays a decision whose precommit signatures, or whose
          // block (the record of a proposal taken before), did not reach the disk before the crash (or a
          // log from an older version). The block waits for what it lacks to arrive again (validators
          // send their votes and proposals again at restart and while the height lasts), or for block
          // sync to bring it with a peer's certificate.
          this.awaiting = { height: a.height, round: a.round, block: a.block, proposal: p };
          this.log({ event: p ? 'decided-awaiting-signatures' : 'decided-without-block', height: a.height, round: a.round, block: a.block });
          this.schedule(p ? this.timeouts.precommitMs : 0, () => this.fetchDecided(a.height));
          return;
        }
        case 'equivocation': {
          // Replayed after a restart, it was kept already (and the log holds no signatures).
          if (replayed) break;
          const signed = (v: Vote): SignedStatement | undefined => {
            const s = this.signatures.get(statementKey(v.type, v.validator, v.round, v.block));
            return s && { type: v.type, height: v.height, round: v.round, block: v.block, validator: v.validator, publicKey: hex(s.publicKey), signature: hex(s.signature) };
          };
          const first = signed(a.first), second = signed(a.second);
          if (first && second) this.recordEvidence({ first, second });
          // The first vote came before a restart, and the log keeps no prevote signatures: said, not provable.
          else this.log({ event: 'equivocation-unsigned', validator: a.second.validator, height: a.second.height, round: a.second.round, type: a.second.type, first: a.first.block, second: a.second.block });
          break;
        }
      }
    }
  }

  /**
   * Commits a decided block with the precommit signatures gathered for it, unless they are not more
   * than 2/3 of the validators (then false). Already committed (a replay after the commit): goes on.
   */
  private async commitDecided(height: bigint, round: number, block: string, p: NodeProposal): Promise<boolean> {
    const signed = new Map<string, CommitSignature>();
    for (const v of this.machine.validators) {
      const s = this.precommitSignatures.get(`${v}|${round}|${block}`);
      if (s) signed.set(v, s);
    }
    if (this.node.height < height) {
      if (signed.size * 3 <= this.machine.validators.length * 2) return false;
      await this.node.commitBlock(p, { height, round, blockHash: p.hash, signatures: [...signed.values()] });
    }
    this.awaiting = undefined;
    this.decided = { height, round, blockHash: p.hash, validators: this.machine.validators, signatures: signed };
    this.startNextHeight(height + 1n);
    return true;
  }

  /** Block sync until `height` is committed here, again every prevote timeout while peers have not stored it yet. */
  private async fetchDecided(height: bigint): Promise<void> {
    if (this.stopped || this.node.height >= height) return;
    await this.sync();
    if (this.node.height < height) this.schedule(this.timeouts.prevoteMs, () => this.fetchDecided(height));
  }

  /** Keeps evidence of equivocation: in memory (consensus_evidence, the newest), appended to the evidence file, logged. */
  private recordEvidence(e: Equivocation): void {
    this.evidenceCount++;
    this.evidence.push(e);
    if (this.evidence.length > EVIDENCE_KEPT) this.evidence.splice(0, this.evidence.length - EVIDENCE_KEPT);
    if (this.evidenceFile) appendFileSync(this.evidenceFile, `${JSON.stringify(evidenceJson(e))}\n`);
    this.log({ event: 'equivocation', validator: e.first.validator, height: e.first.height, round: e.first.round, type: e.first.type });
  }

  /** The next height starts one block time after the last block's time: the chain's pace (SPEC C3). */
  private startNextHeight(height: bigint): void {
    this.schedule(Number(this.node.head.header.time) + this.node.params.blockTimeMs - Date.now(), () => this.startHeight(height, false));
  }

  private send(m: ConsensusMessage): void {
    this.sent.push({ message: m, at: Date.now() });
    this.broadcast(m);
  }

  /** Sends without waiting; a failure the transport reports later goes where the driver's errors go. */
  private broadcast(m: ConsensusMessage): void {
    void Promise.resolve(this.transport.broadcast(m)).catch((e: Error) => this.onError(e));
  }
}

/** What a statement says, as a key: its kind, signer, round and block (null: nil). */
function statementKey(type: SignedStatement['type'], validator: string, round: number, block: string | null): string {
  return `${type}|${validator}|${round}|${block ?? 'nil'}`;
}

function isNil(h: Uint8Array): boolean {
  return h.every((b) => b === 0);
}
