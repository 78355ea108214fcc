// Evidence (存证): registered digests with time, optional time-stamp token and custody digests (E1,
// E2, E5), linked chains that expose any gap or alteration (E3), and multi-party records that take
// effect only when every named party confirms (E4). Registrants: partners with the evidence
// permission, and users whose identity standing allows evidence (SPEC I3).
import { Context, PersistentMap, Bytes32, Address, emit, emitEncoded, fail, ensure } from "@brop/sdk";
import { PERM_EVIDENCE, partnerHas, requireNotFrozen, containsAddress, standingOf } from "../../common/assembly/system";
import { Evidence, ChainHead, MultiParty, MULTI_PENDING, MULTI_EFFECTIVE, MULTI_REVOKED } from "./model";

const records = new PersistentMap<string, Evidence>("e");
const chains = new PersistentMap<string, ChainHead>("h");
const chainKeys = new PersistentMap<Uint8Array, string>("ck");
const multi = new PersistentMap<string, MultiParty>("m");

const MAX_PARTIES = 16;

function requireRegistrant(): Address {
  const me = Context.caller();
  if (partnerHas(me, PERM_EVIDENCE)) return me;
  if (!standingOf(me, null).evidenceAllowed) fail("NOT_PERMITTED", "evidence is registered by evidence partners and by users certified phone-verified or better (or anonymous with a partner's voucher)");
  return me;
}

function checkKey(key: string): void {
  ensure(key.length > 0 && key.length <= 256, "BAD_KEY", "keys are 1 to 256 characters");
}

function checkMeta(meta: string): void {
  ensure(meta.length <= 4096, "META_TOO_LONG", "metadata is at most 4096 characters");
}

function newRecord(key: string, digest: Bytes32, meta: string, registrant: Address): Evidence {
  checkKey(key);
  checkMeta(meta);
  if (digest.isZero()) fail("BAD_DIGEST", "the digest cannot be zero");
  if (records.has(key) || multi.has(key)) fail("KEY_TAKEN", "evidence already exists under " + key);
  const r = new Evidence();
  r.key = key;
  r.digest = digest;
  r.registrant = registrant;
  r.meta = meta;
  r.height = Context.blockHeight();
  r.time = Context.blockTime();
  return r;
}

/** Registers `digest` under `key` (E1, E2, E5); returns the block height, the time proof. */
export function register(key: string, digest: Bytes32, meta: string, timestampToken: Bytes32 | null, custody: Bytes32 | null): u64 {
  const r = newRecord(key, digest, meta, requireRegistrant());
  r.timestampToken = timestampToken;
  r.custody = custody;
  emitEncoded<Evidence>("registered", records.setEncoded(key, r), [key, r.registrant.toHex()]);
  return r.height;
}

function chainKey(chain: string, index: u64): Uint8Array {
  const c = Uint8Array.wrap(String.UTF8.encode(chain));
  const k = new Uint8Array(c.length + 8);
  k.set(c, 0);
  for (let i = 0; i < 8; i++) k[c.length + i] = <u8>(index >> (<u64>(56 - i * 8)));
  return k;
}

/**
 * Appends a linked record to `chain` (E3): `prev` must be the chain's current head digest (null to
 * start a chain), so every record commits to the one before it. Returns the record's index.
 */
export function append(chain: string, key: string, digest: Bytes32, prev: Bytes32 | null, meta: string): u64 {
  const registrant = requireRegistrant();
  ensure(chain.length > 0 && chain.length <= 128, "BAD_CHAIN", "chain names are 1 to 128 characters");
  const head = chains.get(chain, new ChainHead());
  if (head.length == 0) {
    if (prev !== null) fail("BROKEN_LINK", "a new chain starts with no previous digest");
    head.creator = registrant;
  } else if (!head.creator.equals(registrant) && !containsAddress(head.writers, registrant)) {
    fail("NOT_A_WRITER", "only the chain's creator and the writers it names may append");
  } else if (prev === null || !prev!.equals(head.head)) {
    fail("BROKEN_LINK", "prev must be the digest of the chain's last record");
  }
  const r = newRecord(key, digest, meta, registrant);
  r.chain = chain;
  r.index = head.length;
  r.prev = prev;
  records.set(key, r);
  chainKeys.set(chainKey(chain, head.length), key);
  head.length += 1;
  head.head = digest;
  chains.set(chain, head);
  emit<Evidence>("appended", r, [key, chain]);
  return r.index;
}


/** The chain's creator names who else may append to it (replacing the previous list). */
export function setChainWriters(chain: string, writers: Array<Address>): void {
  const head = chains.getSome(chain, "NOT_FOUND", "no chain named " + chain);
  if (!head.creator.equals(Context.caller())) fail("NOT_CREATOR", "only the chain's creator names its writers");
  ensure(writers.length <= 32, "TOO_MANY", "at most 32 writers");
  head.writers = writers;
  chains.set(chain, head);
  emit<Array<Address>>("writers-set", writers, [chain]);
}

/** Proposes a record that takes effect when every party confirms (E4). The proposer may be a party. */
export function propose(key: string, digest: Bytes32, parties: Array<Address>, meta: string): void {
  const proposer = requireRegistrant();
  ensure(parties.length >= 2 && parties.length <= MAX_PARTIES, "BAD_PARTIES", "a multi-party record names 2 to 16 parties");
  for (let i = 0; i < parties.length; i++) for (let j = 0; j < i; j++) if (parties[i].equals(parties[j])) fail("BAD_PARTIES", "a party is named twice");
  const r = newRecord(key, digest, meta, proposer);
  const m = new MultiParty();
  m.key = key;
  m.digest = r.digest;
  m.proposer = proposer;
  m.meta = meta;
  m.parties = parties;
  for (let i = 0; i < parties.length; i++) m.confirmed.push(false);
  m.proposedAt = r.height;
  multi.set(key, m);
  emit<MultiParty>("proposed", m, [key]);
}

function partyIndex(m: MultiParty, who: Address): i32 {
  for (let i = 0; i < m.parties.length; i++) if (m.parties[i].equals(who)) return i;
  return -1;
}

function pendingMulti(key: string): MultiParty {
  const m = multi.getSome(key, "NOT_FOUND", "no multi-party record under " + key);
  if (m.status != MULTI_PENDING) fail("NOT_PENDING", "the record is already effective or revoked");
  return m;
}

/** A named party confirms; the last confirmation makes the record effective. Returns whether it now is. */
export function confirm(key: string): bool {
  const m = pendingMulti(key);
  requireNotFrozen(Context.caller());
  const i = partyIndex(m, Context.caller());
  if (i < 0) fail("NOT_A_PARTY", "only the named parties confirm");
  if (m.confirmed[i]) fail("ALREADY_CONFIRMED", "this party already confirmed");
  m.confirmed[i] = true;
  let all = true;
  for (let j = 0; j < m.confirmed.length; j++) if (!m.confirmed[j]) all = false;
  if (all) {
    m.status = MULTI_EFFECTIVE;
    m.settledAt = Context.blockHeight();
    const r = new Evidence();
    r.key = key;
    r.digest = m.digest;
    r.registrant = m.proposer;
    r.meta = m.meta;
    r.height = m.settledAt;
    r.time = Context.blockTime();
    records.set(key, r);
    emit<MultiParty>("effective", m, [key]);
  } else {
    emit<Address>("confirmed", Context.caller(), [key]);
  }
  multi.set(key, m);
  return all;
}

/** Before the record takes effect, any named party may revoke it. */
export function revoke(key: string): void {
  const m = pendingMulti(key);
  requireNotFrozen(Context.caller());
  if (partyIndex(m, Context.caller()) < 0) fail("NOT_A_PARTY", "only the named parties revoke");
  m.status = MULTI_REVOKED;
  m.settledAt = Context.blockHeight();
  m.revokedBy = Context.caller();
  multi.set(key, m);
  emit<MultiParty>("revoked", m, [key]);
}

@view
export function get(key: string): Evidence | null {
  return records.tryGet(key);
}

/** Whether a document with this digest is what was registered under `key` (E2). */
@view
export function verify(key: string, digest: Bytes32): bool {
  return records.has(key) && records.getSome(key).digest.equals(digest);
}

@view
export function getMultiParty(key: string): MultiParty | null {
  return multi.tryGet(key);
}

@view
export function chainHead(chain: string): ChainHead | null {
  return chains.tryGet(chain);
}

/** The key of record `index` of `chain`. */
@view
export function chainRecord(chain: string, index: u64): Evidence | null {
  const k = chainKey(chain, index);
  return chainKeys.has(k) ? records.getSome(chainKeys.getSome(k)) : null;
}

/**
 * Whether `digests` are exactly the chain's records in order (E3): a missing, extra, reordered or
 * altered record fails.
 */
@view
export function verifyChain(chain: string, digests: Array<Bytes32>): bool {
  if (!chains.has(chain)) return false;
  const head = chains.getSome(chain);
  if (<u64>digests.length != head.length) return false;
  for (let i = 0; i < digests.length; i++) {
    const r = records.getSome(chainKeys.getSome(chainKey(chain, <u64>i)));
    if (!r.digest.equals(digests[i])) return false;
  }
  return true;
}
