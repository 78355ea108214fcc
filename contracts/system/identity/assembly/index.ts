// Identity (身份): accounts with stable addresses and system ids, certifications by several partners,
// acceptance between partners, key resets with materials digests, user grants, and freezes executed
// on regulator commands (SPEC I1-I7, S3).
import { Context, PersistentMap, Singleton, Bytes32, Address, Encoder, encodeValue, decode, callContract, sha256, emit, fail, ensure } from "@brop/sdk";
import { ADMISSION, PERM_IDENTITY, partnerHas, standingOf, ActivePartners } from "../../common/assembly/system";
import { Command, IDENTITY_SUMMARIES } from "../../common/assembly/records";
import { Account, Certification, KeyReset, Grant, Standing, Summary, CertLevel, LEVEL_REGISTERED, LEVEL_CERTIFICATE } from "./model";

const accounts = new PersistentMap<Address, Account>("a");
const byId = new PersistentMap<u64, Address>("i");
const byName = new PersistentMap<string, Address>("n");
const accountCount = new Singleton<u64>("ac");
const summaries = new PersistentMap<Address, Summary>(IDENTITY_SUMMARIES);
const certs = new PersistentMap<Uint8Array, Certification>("c");
const accepted = new PersistentMap<Address, Array<Address>>("acc");
const resets = new PersistentMap<Address, Array<KeyReset>>("rs");
const grants = new PersistentMap<u64, Grant>("g");
const grantCount = new Singleton<u64>("gn");
const grantsByTuple = new PersistentMap<Uint8Array, Array<u64>>("gt");

const MAX_KEYS = 8;

function tupleKey(user: Address, grantee: Address, holder: Address, scope: string): Uint8Array {
  const s = Uint8Array.wrap(String.UTF8.encode(scope));
  const k = new Uint8Array(96 + s.length);
  k.set(user.bytes, 0);
  k.set(grantee.bytes, 32);
  k.set(holder.bytes, 64);
  k.set(s, 96);
  return k;
}

function certKey(account: Address, partner: Address): Uint8Array {
  const k = new Uint8Array(64);
  k.set(account.bytes, 0);
  k.set(partner.bytes, 32);
  return k;
}

function requireIdentityPartner(): Address {
  const me = Context.caller();
  if (!partnerHas(me, PERM_IDENTITY)) fail("NOT_PERMITTED", "only an active partner with the identity permission may do this");
  return me;
}

function account(address: Address): Account {
  return accounts.getSome(address, "UNKNOWN_ACCOUNT", "no such account");
}

function checkKeys(keys: Array<Bytes32>): void {
  ensure(keys.length > 0 && keys.length <= MAX_KEYS, "BAD_KEYS", "an account has 1 to 8 keys");
  for (let i = 0; i < keys.length; i++) {
    if (keys[i].isZero()) fail("BAD_KEYS", "a key cannot be zero");
    for (let j = 0; j < i; j++) if (keys[i].equals(keys[j])) fail("BAD_KEYS", "duplicate key");
  }
}

function claimName(name: string | null, address: Address): void {
  if (name === null) return;
  const n = name!;
  ensure(n.length > 0 && n.length <= 64, "BAD_NAME", "names are 1 to 64 characters");
  if (byName.has(n)) fail("NAME_TAKEN", "the name " + n + " is taken");
  byName.set(n, address);
}

const ADDRESS_DOMAIN = "brop:address:";

/**
 * An account's address: sha256("brop:address:" || its first public key). Deriving it from the key
 * means nobody can open an account at an address they do not hold the key for (or at the address of
 * the operator, a regulator or a validator).
 */
@view
export function addressOfKey(key: Bytes32): Address {
  const d = Uint8Array.wrap(String.UTF8.encode(ADDRESS_DOMAIN));
  const b = new Uint8Array(d.length + 32);
  b.set(d, 0);
  b.set(key.bytes, d.length);
  return sha256(b);
}

function create(key: Bytes32, name: string | null, by: Address, userPartner: Address): Account {
  const keys: Array<Bytes32> = [key];
  checkKeys(keys);
  const address = addressOfKey(key);
  if (accounts.has(address)) fail("ACCOUNT_EXISTS", "an account already has this address");
  claimName(name, address);
  const a = new Account();
  a.id = accountCount.get(0) + 1;
  accountCount.set(a.id);
  a.address = address;
  a.name = name;
  a.keys = keys;
  a.registeredBy = by;
  a.userPartner = userPartner;
  a.createdAt = Context.blockHeight();
  accounts.set(address, a);
  summaries.set(address, new Summary());
  byId.set(a.id, address);
  emit<Account>("account-created", a, [address.toHex()]);
  return a;
}

/**
 * A partner registers an account for a user, whose address derives from the user's public key; the
 * partner becomes the user's partner. Returns the system id.
 */
export function createAccount(key: Bytes32, name: string | null): u64 {
  const partner = requireIdentityPartner();
  return create(key, name, partner, partner).id;
}

/** Self-registration (level: registration only): the caller's address must derive from `key`. */
export function register(key: Bytes32, name: string | null): u64 {
  const me = Context.caller();
  if (!addressOfKey(key).equals(me)) fail("KEY_MISMATCH", "the caller's address does not derive from this key");
  return create(key, name, me, Bytes32.zero()).id;
}

/** The account chooses its user partner (which must have certified it) — for key resets and commands. */
export function setUserPartner(partner: Address): void {
  const a = account(Context.caller());
  if (a.frozen) fail("ACCOUNT_FROZEN", "the account is frozen");
  if (!certs.has(certKey(a.address, partner))) fail("NOT_CERTIFIER", "the user partner must have certified the account");
  a.userPartner = partner;
  accounts.set(a.address, a);
  emit<Address>("user-partner-set", partner, [a.address.toHex()]);
}

/** The account adds a key of its own. */
export function addKey(key: Bytes32): void {
  const a = account(Context.caller());
  if (a.frozen) fail("ACCOUNT_FROZEN", "the account is frozen");
  const keys = a.keys;
  keys.push(key);
  checkKeys(keys);
  a.keys = keys;
  accounts.set(a.address, a);
  emit<Bytes32>("key-added", key, [a.address.toHex()]);
}

/** The account removes one of its keys (never the last). */
export function removeKey(key: Bytes32): void {
  const a = account(Context.caller());
  const kept = new Array<Bytes32>();
  for (let i = 0; i < a.keys.length; i++) if (!a.keys[i].equals(key)) kept.push(a.keys[i]);
  if (kept.length == a.keys.length) fail("UNKNOWN_KEY", "the account has no such key");
  if (kept.length == 0) fail("LAST_KEY", "an account keeps at least one key");
  a.keys = kept;
  accounts.set(a.address, a);
  emit<Bytes32>("key-removed", key, [a.address.toHex()]);
}

/** A partner certifies an account at a level, with the salted digest of the identity data (I2-I4). */
export function certify(address: Address, level: u8, identityDigest: Bytes32, vouchesEvidence: bool): void {
  const partner = requireIdentityPartner();
  account(address);
  ensure(level >= LEVEL_REGISTERED && level <= LEVEL_CERTIFICATE, "BAD_LEVEL", "levels are 1 (registration) to 5 (digital certificate)");
  if (identityDigest.isZero()) fail("MISSING_DIGEST", "a certification carries the digest of the identity data");
  const c = new Certification();
  c.partner = partner;
  c.level = level;
  c.identityDigest = identityDigest;
  c.vouchesEvidence = vouchesEvidence;
  c.certifiedAt = Context.blockHeight();
  certs.set(certKey(address, partner), c);
  const sum = summaries.getSome(address);
  let entry: CertLevel | null = null;
  for (let i = 0; i < sum.certs.length; i++) if (sum.certs[i].partner.equals(partner)) entry = sum.certs[i];
  if (entry === null) {
    entry = new CertLevel();
    entry!.partner = partner;
    sum.certs.push(entry!);
  }
  entry!.level = level;
  entry!.vouchesEvidence = vouchesEvidence;
  summaries.set(address, sum);
  emit<Certification>("certified", c, [address.toHex(), partner.toHex()]);
}

/** The certifying partner withdraws its certification. */
export function revokeCertification(address: Address): void {
  const partner = requireIdentityPartner();
  if (!certs.delete(certKey(address, partner))) fail("NOT_CERTIFIED", "this partner has not certified the account");
  const sum = summaries.getSome(address);
  const kept = new Array<CertLevel>();
  for (let i = 0; i < sum.certs.length; i++) if (!sum.certs[i].partner.equals(partner)) kept.push(sum.certs[i]);
  sum.certs = kept;
  summaries.set(address, sum);
  emit<Address>("certification-revoked", partner, [address.toHex(), partner.toHex()]);
}

/** A partner declares whose certifications it accepts besides its own (I4). */
export function setAccepted(partners: Array<Address>): void {
  const me = requireIdentityPartner();
  ensure(partners.length <= 64, "TOO_MANY", "at most 64 accepted partners");
  accepted.set(me, partners);
  emit<Array<Address>>("acceptance-set", partners, [me.toHex()]);
}

/** A certifying partner resets a user's keys; address and holdings stay (I5). */
export function resetKeys(address: Address, newKeys: Array<Bytes32>, materialsDigest: Bytes32): void {
  const partner = requireIdentityPartner();
  const a = account(address);
  if (!a.userPartner.equals(partner)) fail("NOT_USERS_PARTNER", "only the user's partner may reset its keys");
  if (materialsDigest.isZero()) fail("MISSING_DIGEST", "a key reset registers the digest of the application and certification materials");
  checkKeys(newKeys);
  a.keys = newKeys;
  accounts.set(address, a);
  const r = new KeyReset();
  r.partner = partner;
  r.materialsDigest = materialsDigest;
  r.newKeys = newKeys;
  r.height = Context.blockHeight();
  const history = resets.get(address, []);
  history.push(r);
  resets.set(address, history);
  emit<KeyReset>("keys-reset", r, [address.toHex(), partner.toHex()]);
}

/** The user grants `grantee` access to data `holder` keeps about them (I7); returns the grant id. */
export function grant(grantee: Address, holder: Address, scope: string, expiresAt: u64): u64 {
  const user = account(Context.caller());
  if (user.frozen) fail("ACCOUNT_FROZEN", "the account is frozen");
  ensure(scope.length > 0 && scope.length <= 256, "BAD_SCOPE", "a scope is 1 to 256 characters");
  if (expiresAt != 0 && expiresAt <= Context.blockTime()) fail("BAD_EXPIRY", "the grant would already have expired");
  const g = new Grant();
  g.id = grantCount.get(0) + 1;
  grantCount.set(g.id);
  g.user = user.address;
  g.grantee = grantee;
  g.holder = holder;
  g.scope = scope;
  g.expiresAt = expiresAt;
  g.grantedAt = Context.blockTime();
  grants.set(g.id, g);
  const tk = tupleKey(g.user, grantee, holder, scope);
  const ids = grantsByTuple.get(tk, []);
  ids.push(g.id);
  grantsByTuple.set(tk, ids);
  emit<Grant>("granted", g, [user.address.toHex(), grantee.toHex(), holder.toHex()]);
  return g.id;
}

export function revokeGrant(id: u64): void {
  const g = grants.getSome(id, "UNKNOWN_GRANT", "no such grant");
  if (!g.user.equals(Context.caller())) fail("NOT_GRANTOR", "only the user who granted may revoke");
  if (g.revoked) fail("ALREADY_REVOKED", "the grant is already revoked");
  g.revoked = true;
  grants.set(id, g);
  emit<Grant>("grant-revoked", g, [g.user.toHex(), g.grantee.toHex(), g.holder.toHex()]);
}

function recordExecution(commandId: u64, executor: Address, proofDigest: Bytes32): Uint8Array {
  const e = new Encoder();
  encodeValue<u64>(e, commandId);
  encodeValue<Bytes32>(e, executor);
  encodeValue<Bytes32>(e, proofDigest);
  const r = callContract(ADMISSION, "recordExecution", e.finish());
  if (!r.ok) fail("COMMAND_REFUSED", String.UTF8.decode(r.data.buffer));
  return r.data;
}

/**
 * The user's partner executes a regulator's freeze or unfreeze command against the account (S3),
 * with the legal proof digest; the admission contract records the execution.
 */
export function executeCommand(address: Address, commandId: u64, proofDigest: Bytes32): void {
  const partner = requireIdentityPartner();
  const a = account(address);
  if (!a.userPartner.equals(partner)) fail("NOT_USERS_PARTNER", "only the user's partner executes commands against it");
  const raw = recordExecution(commandId, partner, proofDigest);
  const cmd = decode<Command>(raw);
  if (!cmd.target.equals(address)) fail("WRONG_TARGET", "the command is against another account");
  if (cmd.action == "freeze-account") {
    a.frozen = true;
    a.frozenBy = commandId;
  } else if (cmd.action == "unfreeze-account") {
    a.frozen = false;
    a.frozenBy = 0;
  } else {
    fail("WRONG_ACTION", "identity executes freeze-account and unfreeze-account");
  }
  accounts.set(address, a);
  const sum = summaries.getSome(address);
  sum.frozen = a.frozen;
  summaries.set(address, sum);
  emit<Account>(a.frozen ? "account-frozen" : "account-unfrozen", a, [address.toHex()]);
}

// ---- views ----

@view
export function getAccount(address: Address): Account | null {
  return accounts.tryGet(address);
}

@view
export function accountById(id: u64): Account | null {
  return byId.has(id) ? accounts.getSome(byId.getSome(id)) : null;
}

@view
export function accountByName(name: string): Account | null {
  return byName.has(name) ? accounts.getSome(byName.getSome(name)) : null;
}

/** Whether `key` may currently sign for the account (the node checks this for every transaction). */
@view
export function isAuthorisedKey(address: Address, key: Bytes32): bool {
  const found = accounts.tryGet(address);
  if (found === null) return false;
  const a = found!;
  if (a.frozen) return false;
  for (let i = 0; i < a.keys.length; i++) if (a.keys[i].equals(key)) return true;
  return false;
}

@view
export function certifications(address: Address): Array<Certification> {
  const out = new Array<Certification>();
  const sum = summaries.tryGet(address);
  if (sum === null) return out;
  for (let i = 0; i < sum!.certs.length; i++) out.push(certs.getSome(certKey(address, sum!.certs[i].partner)));
  return out;
}

@view
export function acceptedBy(partner: Address): Array<Address> {
  return accepted.get(partner, []);
}

@view
export function keyResets(address: Address): Array<KeyReset> {
  return resets.get(address, []);
}

/** Whether `digest` is the identity digest `partner` certified (I2, I6: verifier and regulator checks). */
@view
export function verifyIdentity(address: Address, partner: Address, digest: Bytes32): bool {
  const key = certKey(address, partner);
  return certs.has(key) && certs.getSome(key).identityDigest.equals(digest);
}


/**
 * The account's standing as `viewer` sees it: the best level certified by `viewer` or by partners
 * `viewer` accepts (a zero viewer: by any active partner). Self-registration counts as level 1.
 */
@view
export function standingFor(address: Address, viewer: Address): Standing {
  if (viewer.isZero()) return standingOf(address, null);
  const trusted = accepted.get(viewer, []);
  trusted.push(viewer);
  return standingOf(address, trusted);
}

/** Standing as certified by any of `certifiers` (empty: by anyone). Used by vouchers (V3). */
@view
export function standingWith(address: Address, certifiersList: Array<Address>): Standing {
  return standingOf(address, certifiersList.length == 0 ? null : certifiersList);
}

/** Standings of several accounts at once, as certified by the same partners (a client checking a transfer's parties, say). */
@view
export function standingsWith(addresses: Array<Address>, certifiersList: Array<Address>): Array<Standing> {
  const out = new Array<Standing>();
  const partnersSeen = new ActivePartners();
  for (let i = 0; i < addresses.length; i++) out.push(standingOf(addresses[i], certifiersList.length == 0 ? null : certifiersList, partnersSeen));
  return out;
}

/** Whether the grant lets `grantee` access `holder`'s data about `user` in `scope` now. */
@view
export function isGranted(user: Address, grantee: Address, holder: Address, scope: string): bool {
  const ids = grantsByTuple.get(tupleKey(user, grantee, holder, scope), []);
  for (let i = 0; i < ids.length; i++) {
    const g = grants.getSome(ids[i]);
    if (!g.revoked && (g.expiresAt == 0 || g.expiresAt > Context.blockTime())) return true;
  }
  return false;
}

@view
export function getGrant(id: u64): Grant | null {
  return grants.tryGet(id);
}
