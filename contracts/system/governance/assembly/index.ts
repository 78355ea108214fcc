// Governance (治理): validators propose and vote on validator-set changes and system-contract upgrades
// (SPEC C7, S2). A proposal passes with more than 2/3 of the validators in favour. A passed
// validator-set change is due at the height it names, and the node applies it through `endBlock`,
// which it calls as the system after every block's transactions: the change takes effect then only if
// the new set keeps more than 2/3 of its validators live (their precommit signatures in the commits the
// latest blocks carry, or, for one joining, having announced its node synced with `ready`), and every
// validator it adds is ready.
// Otherwise it waits (the chain never halts on a set it cannot run), and lapses after LAPSE_BLOCKS.
import { Context, PersistentMap, Singleton, Bytes32, Address, emit, fail, ensure } from "@brop/sdk";

export const KIND_ADD_VALIDATOR: u8 = 1;
export const KIND_REMOVE_VALIDATOR: u8 = 2;
export const KIND_UPGRADE: u8 = 3;

export const OPEN: u8 = 1;
export const PASSED: u8 = 2;
export const REJECTED: u8 = 3;

/** A passed change: waiting for its height (and, for validator changes, for liveness), applied, or lapsed. */
export const SCHEDULED: u8 = 1;
export const APPLIED: u8 = 2;
export const LAPSED: u8 = 3;

/** Blocks a proposal stays open for votes. */
const VOTING_BLOCKS: u64 = 1200;
/** Blocks past its height a validator change may wait for the liveness check before it lapses. */
const LAPSE_BLOCKS: u64 = 1200;
/** How recent a `ready` must be (a joining node sends one every few blocks while it waits). */
const READY_WINDOW: u64 = 10;
/**
 * A validator is live if it signed the commit of one of the last two blocks (each block carries its
 * parent's commit, the precommits its proposer gathered): a validator that goes down stops counting
 * within two blocks, and a live one whose precommit came too late for one commit still counts.
 */
const SIGNED_WINDOW: u64 = 3;

@serializable
export class Proposal {
  id: u64 = 0;
  proposer: Address = Bytes32.zero();
  kind: u8 = 0;
  /** The validator to add or remove, or the system contract to upgrade. */
  subject: Address = Bytes32.zero();
  /** For upgrades: the code hash that replaces the contract's code. */
  codeHash: Bytes32 = Bytes32.zero();
  effectiveHeight: u64 = 0;
  descriptionDigest: Bytes32 = Bytes32.zero();
  votesFor: Array<Address> = [];
  votesAgainst: Array<Address> = [];
  status: u8 = OPEN;
  createdAt: u64 = 0;
  deadline: u64 = 0;
}

/** A passed change, due from `height` on. */
@serializable
export class Change {
  proposal: u64 = 0;
  kind: u8 = 0;
  subject: Address = Bytes32.zero();
  codeHash: Bytes32 = Bytes32.zero();
  height: u64 = 0;
  status: u8 = SCHEDULED;
  /** For an applied validator change: the first height the new set signs (0 while not applied). */
  appliedAt: u64 = 0;
}

/** A validator set and the first height it signs. */
@serializable
export class Epoch {
  from: u64 = 0;
  validators: Array<Address> = [];
}

const genesis = new Singleton<Array<Address>>("g");
/** The set that signs the current block (after endBlock: the next one). */
const active = new Singleton<Array<Address>>("v");
const epochs = new Singleton<Array<Epoch>>("e");
/** Passed validator changes not yet applied, in the order they passed. */
const queue = new Singleton<Array<Change>>("q");
/** Every passed change, in the order they passed. */
const changes = new Singleton<Array<Change>>("c");
const proposals = new PersistentMap<u64, Proposal>("p");
const proposalCount = new Singleton<u64>("pn");
const lastProposed = new PersistentMap<Address, u64>("lp");
/** The last height whose commit carries the validator's precommit signature. */
const lastSigned = new PersistentMap<Address, u64>("ls");
const readyAt = new PersistentMap<Address, u64>("r");

function contains(list: Array<Address>, a: Address): i32 {
  for (let i = 0; i < list.length; i++) if (list[i].equals(a)) return i;
  return -1;
}

/** `set` with the change made (a copy). */
function applied(set: Array<Address>, c: Change): Array<Address> {
  const out = set.slice();
  const at = contains(out, c.subject);
  if (c.kind == KIND_ADD_VALIDATOR && at < 0) out.push(c.subject);
  else if (c.kind == KIND_REMOVE_VALIDATOR && at >= 0) out.splice(at, 1);
  return out;
}

function requireValidator(): Array<Address> {
  const set = active.get([]);
  if (contains(set, Context.caller()) < 0) fail("NOT_VALIDATOR", "only a current validator may do this");
  return set;
}

function isSystem(): bool {
  return Context.caller().isZero();
}

function recent(map: PersistentMap<Address, u64>, a: Address, height: u64, window: u64): bool {
  return map.has(a) && map.get(a, 0) + window >= height;
}


/** Records the change's new status in the list of passed changes. */
function record(c: Change): void {
  const cs = changes.get([]);
  for (let i = 0; i < cs.length; i++) if (cs[i].proposal == c.proposal) cs[i] = c;
  changes.set(cs);
}

/** Sets the genesis validator set, once. */
export function init(validators: Array<Address>): void {
  if (genesis.exists()) fail("ALREADY_INITIALISED", "the validator set is already set");
  ensure(validators.length > 0 && validators.length <= 100, "BAD_VALIDATORS", "1 to 100 validators");
  for (let i = 0; i < validators.length; i++) if (contains(validators.slice(0, i), validators[i]) >= 0) fail("BAD_VALIDATORS", "a validator is listed twice");
  genesis.set(validators);
  active.set(validators);
  const e = new Epoch();
  e.validators = validators;
  epochs.set([e]);
  emit<Array<Address>>("validators-set", validators);
}

export function propose(kind: u8, subject: Address, codeHash: Bytes32, effectiveHeight: u64, descriptionDigest: Bytes32): u64 {
  const set = requireValidator();
  if (kind < KIND_ADD_VALIDATOR || kind > KIND_UPGRADE) fail("BAD_KIND", "kind is 1 (add validator), 2 (remove validator) or 3 (upgrade)");
  if (effectiveHeight <= Context.blockHeight()) fail("BAD_HEIGHT", "a change takes effect at a future height");
  if (descriptionDigest.isZero()) fail("MISSING_DIGEST", "a proposal carries the digest of its description");
  if (kind == KIND_UPGRADE && codeHash.isZero()) fail("BAD_CODE_HASH", "an upgrade names the new code hash");
  if (kind == KIND_ADD_VALIDATOR && contains(set, subject) >= 0) fail("ALREADY_VALIDATOR", "already a validator");
  if (kind == KIND_ADD_VALIDATOR && subject.isZero()) fail("BAD_SUBJECT", "the zero address cannot validate");
  if (kind == KIND_REMOVE_VALIDATOR) {
    if (contains(set, subject) < 0) fail("NOT_VALIDATOR", "the subject is not a validator");
    if (set.length == 1) fail("LAST_VALIDATOR", "the last validator cannot be removed");
  }
  const p = new Proposal();
  p.id = proposalCount.get(0) + 1;
  proposalCount.set(p.id);
  p.proposer = Context.caller();
  p.kind = kind;
  p.subject = subject;
  p.codeHash = codeHash;
  p.effectiveHeight = effectiveHeight;
  p.descriptionDigest = descriptionDigest;
  p.createdAt = Context.blockHeight();
  p.deadline = p.createdAt + VOTING_BLOCKS;
  proposals.set(p.id, p);
  emit<Proposal>("proposed", p, [subject.toHex()]);
  return p.id;
}

/** Votes once; returns the proposal's status after the vote (passed needs more than 2/3 in favour). */
export function vote(id: u64, approve: bool): u8 {
  const set = requireValidator();
  const p = proposals.getSome(id, "UNKNOWN_PROPOSAL", "no such proposal");
  if (p.status != OPEN) fail("NOT_OPEN", "the proposal is already decided");
  if (Context.blockHeight() > p.deadline) fail("EXPIRED", "voting on this proposal has closed");
  if (p.effectiveHeight <= Context.blockHeight()) fail("EXPIRED", "the proposal's effective height has passed");
  const me = Context.caller();
  if (contains(p.votesFor, me) >= 0 || contains(p.votesAgainst, me) >= 0) fail("ALREADY_VOTED", "one vote per validator");
  if (approve) p.votesFor.push(me);
  else p.votesAgainst.push(me);
  // Votes of accounts that are no longer validators do not count.
  let yes = 0, no = 0;
  for (let i = 0; i < p.votesFor.length; i++) if (contains(set, p.votesFor[i]) >= 0) yes++;
  for (let i = 0; i < p.votesAgainst.length; i++) if (contains(set, p.votesAgainst[i]) >= 0) no++;
  const n = set.length;
  if (yes * 3 > n * 2) {
    p.status = PASSED;
    const c = new Change();
    c.proposal = p.id;
    c.kind = p.kind;
    c.subject = p.subject;
    c.codeHash = p.codeHash;
    c.height = p.effectiveHeight;
    if (c.kind != KIND_UPGRADE) {
      // Removals passed side by side must never empty the set: check it with every waiting change made.
      const q = queue.get([]);
      let after = set;
      for (let i = 0; i < q.length; i++) after = applied(after, q[i]);
      if (applied(after, c).length == 0) {
        p.status = REJECTED;
        proposals.set(id, p);
        emit<u64>("rejected", p.id, [p.subject.toHex()]);
        return p.status;
      }
      q.push(c);
      queue.set(q);
    }
    const cs = changes.get([]);
    cs.push(c);
    changes.set(cs);
    emit<Change>("passed", c, [p.subject.toHex()]);
  } else if ((n - no) * 3 <= n * 2) {
    p.status = REJECTED; // even if everyone left voted yes, it could not pass
    emit<u64>("rejected", p.id, [p.subject.toHex()]);
  }
  proposals.set(id, p);
  return p.status;
}

/**
 * A joining validator's node announces, once it has caught up with the chain, that it can vote: the
 * node sends this by itself while its key is waiting to join. Current validators may send it too.
 */
export function ready(): void {
  const me = Context.caller();
  let waiting = contains(active.get([]), me) >= 0;
  const q = queue.get([]);
  for (let i = 0; i < q.length && !waiting; i++) waiting = q[i].kind == KIND_ADD_VALIDATOR && q[i].subject.equals(me);
  if (!waiting) fail("NOT_JOINING", "only a validator or one about to join may announce itself ready");
  readyAt.set(me, Context.blockHeight());
  emit<u64>("ready", Context.blockHeight(), [me.toHex()]);
}

/**
 * Called by the node, as the system, after the transactions of every block, with the block's proposer
 * and the validators whose precommits for the previous block the block carries (its parent's commit,
 * checked by every node): notes them as live and applies the validator changes that are due and safe.
 * Returns the set that signs the next block if it changed, else an empty list.
 */
export function endBlock(proposer: Address, signers: Array<Address>): Array<Address> {
  if (!isSystem()) fail("NOT_SYSTEM", "only the node calls endBlock");
  const height = Context.blockHeight();
  lastProposed.set(proposer, height);
  lastSigned.set(proposer, height);
  for (let i = 0; i < signers.length; i++) if (lastSigned.get(signers[i], 0) < height - 1) lastSigned.set(signers[i], height - 1);
  let set = active.get([]);
  const q = queue.get([]);
  if (q.length == 0) return [];
  const next = height + 1;
  const rest = new Array<Change>();
  let changed = false;
  for (let i = 0; i < q.length; i++) {
    const c = q[i];
    if (c.height > next) {
      rest.push(c);
      continue;
    }
    const candidate = applied(set, c);
    let live = 0;
    for (let j = 0; j < candidate.length; j++) {
      const v = candidate[j];
      if (recent(lastSigned, v, next, SIGNED_WINDOW) || recent(readyAt, v, next, READY_WINDOW)) live++;
    }
    const joinerReady = c.kind != KIND_ADD_VALIDATOR || recent(readyAt, c.subject, next, READY_WINDOW);
    if (candidate.length > 0 && joinerReady && live * 3 > candidate.length * 2) {
      set = candidate;
      changed = true;
      c.status = APPLIED;
      c.appliedAt = next;
      record(c);
      emit<Change>("applied", c, [c.subject.toHex()]);
    } else if (candidate.length == 0 || next > c.height + LAPSE_BLOCKS) {
      c.status = LAPSED;
      record(c);
      emit<Change>("lapsed", c, [c.subject.toHex()]);
    } else {
      rest.push(c); // waits: the set it makes could not keep the chain running now
    }
  }
  if (rest.length != q.length) queue.set(rest);
  if (!changed) return [];
  active.set(set);
  const e = new Epoch();
  e.from = next;
  e.validators = set;
  const es = epochs.get([]);
  es.push(e);
  epochs.set(es);
  emit<Epoch>("validators-changed", e);
  return set;
}

/** The set that signs the next block. */
@view
export function validators(): Array<Address> {
  return active.get([]);
}

/** The set that signed (or, for the next height, will sign) the block at `height`. */
@view
export function validatorsAtHeight(height: u64): Array<Address> {
  const es = epochs.get([]);
  let out = new Array<Address>();
  for (let i = 0; i < es.length; i++) if (es[i].from <= height) out = es[i].validators;
  return out;
}

/** Every validator set the chain has had, with the height it began signing. */
@view
export function validatorEpochs(): Array<Epoch> {
  return epochs.get([]);
}

/** Passed validator changes not applied yet (waiting for their height or for liveness). */
@view
export function pendingChanges(): Array<Change> {
  return queue.get([]);
}

/** Whether `account` is waiting to join the validator set (its node should announce itself `ready`). */
@view
export function isJoining(account: Address): bool {
  const q = queue.get([]);
  for (let i = 0; i < q.length; i++) if (q[i].kind == KIND_ADD_VALIDATOR && q[i].subject.equals(account)) return true;
  return false;
}

/** The last height `validator` proposed a committed block at (0: never, or not since genesis). */
@view
export function lastProposedAt(validator: Address): u64 {
  return lastProposed.get(validator, 0);
}

/** The last height whose commit carries `validator`'s precommit (or that it proposed); 0: never. */
@view
export function lastSignedAt(validator: Address): u64 {
  return lastSigned.get(validator, 0);
}

@view
export function getProposal(id: u64): Proposal | null {
  return proposals.tryGet(id);
}

/** Every passed change, in the order they passed, with its status. */
@view
export function passedChanges(): Array<Change> {
  return changes.get([]);
}

/** The code hash a system contract runs at `height` by an upgrade, or null if it was never upgraded. */
@view
export function codeHashAt(contract: Address, height: u64): Bytes32 | null {
  const cs = changes.get([]);
  let found: Bytes32 | null = null;
  let foundHeight: u64 = 0;
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i];
    if (c.kind == KIND_UPGRADE && c.subject.equals(contract) && c.height <= height && c.height >= foundHeight) {
      found = c.codeHash;
      foundHeight = c.height;
    }
  }
  return found;
}
