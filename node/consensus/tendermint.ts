/**
 * BFT consensus with single-block finality: the Tendermint algorithm (Buchman, Kwon, Milosevic, "The
 * latest gossip on BFT consensus", 2018), as a deterministic state machine. Events go in (a proposal
 * whose block the node has checked, a vote, a timeout), actions come out (broadcast a proposal or a
 * vote, schedule a timeout, decide a block). No clock, network or disk inside: the driver supplies
 * them, so the same inputs give the same outputs, and tests can play any schedule of messages.
 *
 * Why Tendermint rather than a HotStuff variant: commits are certified by one round of precommits
 * that every node keeps with the block (the commit certificate of docs/node.md), locking makes it safe
 * with up to f of n = 3f+1 validators Byzantine, and it needs no leader-to-leader pipelining, which
 * keeps the state machine small enough to test exhaustively.
 *
 * Validators have equal voting power; more than 2/3 of them is a quorum.
 */

export type Step = 'propose' | 'prevote' | 'precommit';
export type VoteType = 'prevote' | 'precommit';

/** A block is known to the machine by its hash (hex); `null` votes for no block. */
export type BlockId = string;

export interface Proposal {
  height: bigint;
  round: number;
  /** The block's hash. */
  block: BlockId;
  /** -1, or the round in which the proposer saw a quorum of prevotes for this block. */
  validRound: number;
  proposer: string;
}

export interface Vote {
  type: VoteType;
  height: bigint;
  round: number;
  block: BlockId | null;
  validator: string;
}

export type ConsensusEvent =
  | { kind: 'start'; height: bigint }
  /** A proposal from the round's proposer; `valid`: the node executed its block and it checks out. */
  | { kind: 'proposal'; proposal: Proposal; valid: boolean }
  | { kind: 'vote'; vote: Vote }
  | { kind: 'timeout'; height: bigint; round: number; step: Step }
  /**
   * A certificate for this height learnt outside the rounds (block sync from a peer): `precommits`
   * (signatures already checked by the driver) for `block`, which the driver has also checked.
   */
  | { kind: 'commit'; height: bigint; round: number; block: BlockId; precommits: Vote[] };

export type ConsensusAction =
  /** Make a block (or re-propose `block`, the valid one) and broadcast the proposal. */
  | { kind: 'propose'; height: bigint; round: number; block: BlockId | null; validRound: number }
  | { kind: 'vote'; vote: Vote }
  | { kind: 'timeout'; height: bigint; round: number; step: Step; afterMs: number }
  /** `block` is final at `height`, certified by these precommits (a quorum). */
  | { kind: 'decide'; height: bigint; round: number; block: BlockId; precommits: Vote[] }
  /** Two different votes by one validator for one height, round and type. */
  | { kind: 'equivocation'; first: Vote; second: Vote };

export interface TimeoutConfig {
  proposeMs: number;
  prevoteMs: number;
  precommitMs: number;
  /** Added per round: rounds that fail wait longer (back-off), so a slow network eventually fits. */
  deltaMs: number;
}

/** How many rounds ahead of its own a validator keeps messages for (round skipping needs some). */
export const MAX_ROUNDS_AHEAD = 100;

export const DEFAULT_TIMEOUTS: TimeoutConfig = { proposeMs: 3000, prevoteMs: 1000, precommitMs: 1000, deltaMs: 500 };

interface RoundVotes {
  prevotes: Map<string, Vote>;
  precommits: Map<string, Vote>;
}

/** Everything one validator's consensus remembers about a height. */
export class TendermintMachine {
  readonly self: string;
  readonly validators: readonly string[];
  private readonly timeouts: TimeoutConfig;
  height = -1n;
  round = 0;
  step: Step = 'propose';
  lockedBlock: BlockId | null = null;
  lockedRound = -1;
  validBlock: BlockId | null = null;
  validRound = -1;
  private decided = false;
  private proposals = new Map<number, { proposal: Proposal; valid: boolean }>();
  private votes = new Map<number, RoundVotes>();
  /** Rules that fire once per round: "for the first time". */
  private fired = new Set<string>();

  constructor(self: string, validators: readonly string[], timeouts: TimeoutConfig = DEFAULT_TIMEOUTS) {
    if (validators.length === 0) throw new RangeError('at least one validator');
    if (new Set(validators).size !== validators.length) throw new RangeError('a validator is listed twice');
    this.self = self;
    this.validators = validators;
    this.timeouts = timeouts;
  }

  /** More than 2/3 of the validators. */
  get quorum(): number {
    return Math.floor((this.validators.length * 2) / 3) + 1;
  }

  /** f + 1: at least one of them is honest. */
  get oneHonest(): number {
    return Math.floor((this.validators.length - 1) / 3) + 1;
  }

  /** Proposers rotate: by height and round, over the validators in their listed order. */
  proposer(height: bigint, round: number): string {
    const n = BigInt(this.validators.length);
    return this.validators[Number((height + BigInt(round)) % n)]!;
  }

  private isValidator(v: string): boolean {
    return this.validators.includes(v);
  }

  handle(e: ConsensusEvent): ConsensusAction[] {
    const out: ConsensusAction[] = [];
    switch (e.kind) {
      case 'start':
        this.startHeight(e.height, out);
        break;
      case 'proposal':
        this.onProposal(e.proposal, e.valid, out);
        break;
      case 'vote':
        this.onVote(e.vote, out);
        break;
      case 'timeout':
        this.onTimeout(e, out);
        break;
      case 'commit':
        this.onCommit(e, out);
        break;
    }
    return out;
  }

  private onCommit(c: { height: bigint; round: number; block: BlockId; precommits: Vote[] }, out: ConsensusAction[]): void {
    if (c.height !== this.height || this.decided) return;
    const signers = new Map<string, Vote>();
    for (const v of c.precommits) {
      if (v.type === 'precommit' && v.height === c.height && v.round === c.round && v.block === c.block && this.isValidator(v.validator)) signers.set(v.validator, v);
    }
    if (signers.size < this.quorum) return;
    this.decided = true;
    out.push({ kind: 'decide', height: c.height, round: c.round, block: c.block, precommits: [...signers.values()] });
  }

  private startHeight(height: bigint, out: ConsensusAction[]): void {
    this.height = height;
    this.lockedBlock = null;
    this.lockedRound = -1;
    this.validBlock = null;
    this.validRound = -1;
    this.decided = false;
    this.proposals.clear();
    this.votes.clear();
    this.fired.clear();
    this.startRound(0, out);
  }

  /** A node outside the validator set (a full node) follows the rounds and decides, but never proposes or votes. */
  get observer(): boolean {
    return !this.isValidator(this.self);
  }

  private startRound(round: number, out: ConsensusAction[]): void {
    this.round = round;
    this.step = 'propose';
    if (this.proposer(this.height, round) === this.self) {
      out.push({ kind: 'propose', height: this.height, round, block: this.validBlock, validRound: this.validRound });
    }
    // The proposer too: if its own proposal never comes back to it (it crashed while making it, say),
    // the round must still end.
    out.push({ kind: 'timeout', height: this.height, round, step: 'propose', afterMs: this.timeoutMs('propose', round) });
    // Messages for this round may have arrived before it started.
    this.evaluate(out);
  }

  private timeoutMs(step: Step, round: number): number {
    const base = step === 'propose' ? this.timeouts.proposeMs : step === 'prevote' ? this.timeouts.prevoteMs : this.timeouts.precommitMs;
    return base + round * this.timeouts.deltaMs;
  }

  private roundVotes(round: number): RoundVotes {
    let v = this.votes.get(round);
    if (!v) {
      v = { prevotes: new Map(), precommits: new Map() };
      this.votes.set(round, v);
    }
    return v;
  }

  private onProposal(p: Proposal, valid: boolean, out: ConsensusAction[]): void {
    if (p.height !== this.height || this.decided) return;
    if (!Number.isInteger(p.round) || p.round < 0 || p.round > this.round + MAX_ROUNDS_AHEAD) return;
    if (p.proposer !== this.proposer(p.height, p.round)) return; // only the round's proposer proposes
    if (this.proposals.has(p.round)) return; // the first one counts; a second one is the proposer's misbehaviour
    this.proposals.set(p.round, { proposal: p, valid });
    this.evaluate(out);
  }

  private onVote(v: Vote, out: ConsensusAction[]): void {
    if (v.height !== this.height || !this.isValidator(v.validator)) return;
    // Rounds far ahead are refused: a Byzantine validator could otherwise make state for millions of them.
    if (!Number.isInteger(v.round) || v.round < 0 || v.round > this.round + MAX_ROUNDS_AHEAD) return;
    const rv = this.roundVotes(v.round);
    const book = v.type === 'prevote' ? rv.prevotes : rv.precommits;
    const known = book.get(v.validator);
    if (known) {
      if (known.block !== v.block && this.once(`evidence|${v.type}|${v.validator}`, v.round)) out.push({ kind: 'equivocation', first: known, second: v });
      return; // the first vote counts
    }
    book.set(v.validator, v);
    this.evaluate(out);
  }

  private onTimeout(t: { height: bigint; round: number; step: Step }, out: ConsensusAction[]): void {
    if (t.height !== this.height || t.round !== this.round || this.decided) return;
    if (t.step === 'propose' && this.step === 'propose') {
      this.castVote('prevote', null, out);
      this.step = 'prevote';
    } else if (t.step === 'prevote' && this.step === 'prevote') {
      this.castVote('precommit', null, out);
      this.step = 'precommit';
    } else if (t.step === 'precommit') {
      this.startRound(this.round + 1, out);
      return;
    }
    this.evaluate(out);
  }

  private castVote(type: VoteType, block: BlockId | null, out: ConsensusAction[]): void {
    if (this.observer) return;
    const vote: Vote = { type, height: this.height, round: this.round, block, validator: this.self };
    out.push({ kind: 'vote', vote });
    // Our own vote counts like anyone's (the driver does not echo it back).
    const rv = this.roundVotes(this.round);
    (type === 'prevote' ? rv.prevotes : rv.precommits).set(this.self, vote);
  }

  private count(book: Map<string, Vote>, block: BlockId | null | undefined): number {
    let n = 0;
    for (const v of book.values()) if (block === undefined || v.block === block) n++;
    return n;
  }

  private once(rule: string, round: number): boolean {
    const k = `${rule}@${round}`;
    if (this.fired.has(k)) return false;
    this.fired.add(k);
    return true;
  }

  /** Applies every rule of the algorithm that the current messages enable, until none does. */
  private evaluate(out: ConsensusAction[]): void {
    for (let changed = true; changed && !this.decided;) {
      changed = false;
      const r = this.round;
      const rv = this.roundVotes(r);
      const mine = this.proposals.get(r);

      // Decide: a proposal for some round and a quorum of precommits for its block in that round.
      for (const [round, { proposal, valid }] of this.proposals) {
        const pc = this.roundVotes(round).precommits;
        if (valid && this.count(pc, proposal.block) >= this.quorum) {
          this.decided = true;
          out.push({ kind: 'decide', height: this.height, round, block: proposal.block, precommits: [...pc.values()].filter((v) => v.block === proposal.block) });
          return;
        }
      }

      // Skip ahead: f+1 validators are in a later round.
      for (const [round, votes] of this.votes) {
        if (round <= r) continue;
        const senders = new Set([...votes.prevotes.keys(), ...votes.precommits.keys()]);
        if (senders.size >= this.oneHonest) {
          this.startRound(round, out);
          changed = true;
          break;
        }
      }
      if (changed) continue;

      if (this.step === 'propose' && mine) {
        const { proposal, valid } = mine;
        if (proposal.validRound === -1) {
          const ok = valid && (this.lockedRound === -1 || this.lockedBlock === proposal.block);
          this.castVote('prevote', ok ? proposal.block : null, out);
          this.step = 'prevote';
          changed = true;
          continue;
        }
        if (proposal.validRound >= 0 && proposal.validRound < r && this.count(this.roundVotes(proposal.validRound).prevotes, proposal.block) >= this.quorum) {
          const ok = valid && (this.lockedRound <= proposal.validRound || this.lockedBlock === proposal.block);
          this.castVote('prevote', ok ? proposal.block : null, out);
          this.step = 'prevote';
          changed = true;
          continue;
        }
      }

      if (this.step === 'prevote' && this.count(rv.prevotes, undefined) >= this.quorum && this.once('prevote-timeout', r)) {
        out.push({ kind: 'timeout', height: this.height, round: r, step: 'prevote', afterMs: this.timeoutMs('prevote', r) });
      }

      if (mine && mine.valid && (this.step === 'prevote' || this.step === 'precommit') && this.count(rv.prevotes, mine.proposal.block) >= this.quorum && this.once('polka', r)) {
        if (this.step === 'prevote') {
          this.lockedBlock = mine.proposal.block;
          this.lockedRound = r;
          this.castVote('precommit', mine.proposal.block, out);
          this.step = 'precommit';
        }
        this.validBlock = mine.proposal.block;
        this.validRound = r;
        changed = true;
        continue;
      }

      if (this.step === 'prevote' && this.count(rv.prevotes, null) >= this.quorum) {
        this.castVote('precommit', null, out);
        this.step = 'precommit';
        changed = true;
        continue;
      }

      if (this.count(rv.precommits, undefined) >= this.quorum && this.once('precommit-timeout', r)) {
        out.push({ kind: 'timeout', height: this.height, round: r, step: 'precommit', afterMs: this.timeoutMs('precommit', r) });
      }
    }
  }
}
