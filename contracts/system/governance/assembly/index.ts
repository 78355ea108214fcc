// Governance (治理): validators propose and vote on validator-set changes and system-contract upgrades
// (SPEC C7, S2). A proposal passes with more than 2/3 of the validators in favour and takes effect at
// the height it names; the node reads the validator set and upgrades from here.
import { Context, PersistentMap, Singleton, Bytes32, Address, emit, fail, ensure } from "@brop/sdk";

export const KIND_ADD_VALIDATOR: u8 = 1;
export const KIND_REMOVE_VALIDATOR: u8 = 2;
export const KIND_UPGRADE: u8 = 3;

export const OPEN: u8 = 1;
export const PASSED: u8 = 2;
export const REJECTED: u8 = 3;

/** Blocks a proposal stays open for votes. */
const VOTING_BLOCKS: u64 = 1200;

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

/** A passed change, applied from `height` on. */
@serializable
export class Change {
  proposal: u64 = 0;
  kind: u8 = 0;
  subject: Address = Bytes32.zero();
  codeHash: Bytes32 = Bytes32.zero();
  height: u64 = 0;
}

const genesis = new Singleton<Array<Address>>("g");
const proposals = new PersistentMap<u64, Proposal>("p");
const proposalCount = new Singleton<u64>("pn");
const changes = new Singleton<Array<Change>>("c");

function contains(list: Array<Address>, a: Address): i32 {
  for (let i = 0; i < list.length; i++) if (list[i].equals(a)) return i;
  return -1;
}

/**
 * The validator set at `height`: genesis plus the passed changes in effect by then, applied in order
 * of effective height (and of passing, at the same height). `extra` is a change not yet passed.
 */
function validatorsAt(height: u64, extra: Change | null = null): Array<Address> {
  const set = genesis.get([]).slice();
  const cs = changes.get([]).slice();
  if (extra !== null) cs.push(extra!);
  // Stable insertion sort by effective height: lists are short.
  for (let i = 1; i < cs.length; i++) {
    const c = cs[i];
    let j = i - 1;
    while (j >= 0 && cs[j].height > c.height) {
      cs[j + 1] = cs[j];
      j--;
    }
    cs[j + 1] = c;
  }
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i];
    if (c.height > height) continue;
    const at = contains(set, c.subject);
    if (c.kind == KIND_ADD_VALIDATOR && at < 0) set.push(c.subject);
    else if (c.kind == KIND_REMOVE_VALIDATOR && at >= 0) set.splice(at, 1);
  }
  return set;
}

function requireValidator(): Array<Address> {
  const set = validatorsAt(Context.blockHeight());
  if (contains(set, Context.caller()) < 0) fail("NOT_VALIDATOR", "only a current validator may do this");
  return set;
}

/** Sets the genesis validator set, once. */
export function init(validators: Array<Address>): void {
  if (genesis.exists()) fail("ALREADY_INITIALISED", "the validator set is already set");
  ensure(validators.length > 0 && validators.length <= 100, "BAD_VALIDATORS", "1 to 100 validators");
  for (let i = 0; i < validators.length; i++) if (contains(validators.slice(0, i), validators[i]) >= 0) fail("BAD_VALIDATORS", "a validator is listed twice");
  genesis.set(validators);
  emit<Array<Address>>("validators-set", validators);
}

export function propose(kind: u8, subject: Address, codeHash: Bytes32, effectiveHeight: u64, descriptionDigest: Bytes32): u64 {
  const set = requireValidator();
  if (kind < KIND_ADD_VALIDATOR || kind > KIND_UPGRADE) fail("BAD_KIND", "kind is 1 (add validator), 2 (remove validator) or 3 (upgrade)");
  if (effectiveHeight <= Context.blockHeight()) fail("BAD_HEIGHT", "a change takes effect at a future height");
  if (descriptionDigest.isZero()) fail("MISSING_DIGEST", "a proposal carries the digest of its description");
  if (kind == KIND_UPGRADE && codeHash.isZero()) fail("BAD_CODE_HASH", "an upgrade names the new code hash");
  if (kind == KIND_ADD_VALIDATOR && contains(set, subject) >= 0) fail("ALREADY_VALIDATOR", "already a validator");
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
    // Removals passed side by side must never empty the set: check it with every passed change applied.
    if (c.kind == KIND_REMOVE_VALIDATOR && validatorsAt(u64.MAX_VALUE, c).length == 0) {
      p.status = REJECTED;
      proposals.set(id, p);
      emit<u64>("rejected", p.id, [p.subject.toHex()]);
      return p.status;
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

@view
export function validators(): Array<Address> {
  return validatorsAt(Context.blockHeight());
}

@view
export function validatorsAtHeight(height: u64): Array<Address> {
  return validatorsAt(height);
}

@view
export function getProposal(id: u64): Proposal | null {
  return proposals.tryGet(id);
}

/** Every passed change, in the order they passed. */
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
