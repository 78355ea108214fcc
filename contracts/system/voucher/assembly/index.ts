// Vouchers (数字凭证): the operator registers a voucher and hands its management to the issuing
// partner (V1); the issuer issues within the cap to eligible accounts and holders transfer (V2) only
// between real-name-or-better accounts certified by partners the issuer accepts (V3); regulators
// adjust caps, restrict issuance, freeze, limit transfers and read reports (V4); custodians commit
// Merkle sum roots of what they hold for others, which anyone verifies (V5).
import { Context, PersistentMap, Singleton, Bytes32, Address, U128, sha256, emit, fail, ensure } from "@brop/sdk";
import { PERM_VOUCHER, ROLE_OPERATOR, ROLE_REGULATOR, partnerHas, requireNotFrozen, roleOf, standingOf, ActivePartners } from "../../common/assembly/system";
import { VoucherClass, Item, HoldingsCommitment, ProofStep } from "./model";

const classes = new PersistentMap<u64, VoucherClass>("v");
const classCount = new Singleton<u64>("vn");
const symbols = new PersistentMap<string, u64>("s");
const balances = new PersistentMap<Uint8Array, U128>("b");
const items = new PersistentMap<Uint8Array, Item>("it");
const frozenHolders = new PersistentMap<Uint8Array, bool>("fh");
const periodUse = new PersistentMap<Uint8Array, U128>("pu");
const commitments = new PersistentMap<Uint8Array, HoldingsCommitment>("hc");

function holderKey(id: u64, holder: Address): Uint8Array {
  const k = new Uint8Array(40);
  for (let i = 0; i < 8; i++) k[i] = <u8>(id >> (<u64>(56 - i * 8)));
  k.set(holder.bytes, 8);
  return k;
}

function itemKey(id: u64, itemId: string): Uint8Array {
  const s = Uint8Array.wrap(String.UTF8.encode(itemId));
  const k = new Uint8Array(8 + s.length);
  for (let i = 0; i < 8; i++) k[i] = <u8>(id >> (<u64>(56 - i * 8)));
  k.set(s, 8);
  return k;
}

/** Counters change on every transfer; kept apart so a transfer rewrites only them, not the whole class. */
@serializable
class Stats {
  supply: U128 = new U128();
  issued: U128 = new U128();
  holderCount: u64 = 0;
  transferCount: u64 = 0;
}
const stats = new PersistentMap<u64, Stats>("st");

function voucher(id: u64): VoucherClass {
  const v = classes.getSome(id, "UNKNOWN_VOUCHER", "no such voucher");
  const st = stats.getSome(id);
  v.supply = st.supply;
  v.issued = st.issued;
  v.holderCount = st.holderCount;
  v.transferCount = st.transferCount;
  return v;
}

function saveStats(v: VoucherClass): void {
  const st = new Stats();
  st.supply = v.supply;
  st.issued = v.issued;
  st.holderCount = v.holderCount;
  st.transferCount = v.transferCount;
  stats.set(v.id, st);
}

/** The class's own settings; its counters are always read from `stats`. */
function saveConfig(v: VoucherClass): void {
  classes.set(v.id, v);
}

function requireIssuer(v: VoucherClass): void {
  if (!v.issuer.equals(Context.caller())) fail("NOT_ISSUER", "only the issuing partner may do this");
  if (!partnerHas(v.issuer, PERM_VOUCHER)) fail("NOT_PERMITTED", "the issuer is not an active voucher partner");
}

function requireRegulator(): void {
  if (roleOf(Context.caller()) != ROLE_REGULATOR) fail("NOT_REGULATOR", "only a regulator may do this");
}

/** Fails unless every account may hold the voucher (V2, V3): certified at its level by trusted partners, not frozen. */
function requireEligible(v: VoucherClass, accounts: Array<Address>): void {
  const trusted = new Array<Address>();
  trusted.push(v.issuer);
  for (let i = 0; i < v.certifiers.length; i++) trusted.push(v.certifiers[i]);
  const partnersSeen = new ActivePartners();
  for (let i = 0; i < accounts.length; i++) {
    const s = standingOf(accounts[i], trusted, partnersSeen);
    if (!s.exists) fail("NOT_ELIGIBLE", "the account " + accounts[i].toHex() + " does not exist");
    if (s.frozen) fail("ACCOUNT_FROZEN", "the account " + accounts[i].toHex() + " is frozen");
    if (s.level < v.minLevel) fail("NOT_ELIGIBLE", "the account " + accounts[i].toHex() + " is not certified at the required level by a partner the issuer accepts");
  }
}

function requireHolderActive(v: VoucherClass, holder: Address): void {
  if (v.frozen) fail("VOUCHER_FROZEN", "the voucher is frozen by a regulator");
  if (frozenHolders.get(holderKey(v.id, holder), false)) fail("HOLDER_FROZEN", "this holder's vouchers are frozen by a regulator");
}

function credit(v: VoucherClass, to: Address, amount: U128): void {
  const k = holderKey(v.id, to);
  const before = balances.get(k, new U128());
  if (before.isZero() && !amount.isZero()) v.holderCount += 1;
  balances.set(k, before.add(amount));
}

function debit(v: VoucherClass, from: Address, amount: U128): void {
  const k = holderKey(v.id, from);
  const before = balances.get(k, new U128());
  if (before.lt(amount)) fail("INSUFFICIENT_BALANCE", "the holder does not have that much");
  const after = before.sub(amount);
  if (after.isZero()) {
    balances.delete(k);
    if (!amount.isZero()) v.holderCount -= 1;
  } else {
    balances.set(k, after);
  }
}

function useTransferLimit(v: VoucherClass, from: Address, amount: U128): void {
  if (v.transferLimit.isZero() || v.limitPeriod == 0) return;
  const period = Context.blockHeight() / v.limitPeriod;
  const k = new Uint8Array(48);
  k.set(holderKey(v.id, from), 0);
  for (let i = 0; i < 8; i++) k[40 + i] = <u8>(period >> (<u64>(56 - i * 8)));
  const used = periodUse.get(k, new U128()).add(amount);
  if (used.gt(v.transferLimit)) fail("TRANSFER_LIMIT", "over this period's transfer limit");
  periodUse.set(k, used);
}

/** The operator registers a voucher and hands it to the issuing partner (V1). Returns its id. */
export function createVoucher(symbol: string, name: string, product: string, divisible: bool, cap: U128, issuer: Address): u64 {
  if (roleOf(Context.caller()) != ROLE_OPERATOR) fail("NOT_OPERATOR", "only the operator creates vouchers");
  ensure(symbol.length > 0 && symbol.length <= 16, "BAD_SYMBOL", "symbols are 1 to 16 characters");
  ensure(name.length > 0 && name.length <= 128, "BAD_NAME", "names are 1 to 128 characters");
  if (symbols.has(symbol)) fail("SYMBOL_TAKEN", "the symbol " + symbol + " is taken");
  if (cap.isZero()) fail("BAD_CAP", "the supply cap must be positive");
  if (!partnerHas(issuer, PERM_VOUCHER)) fail("NOT_VOUCHER_PARTNER", "the issuer must be an active partner with the voucher permission");
  const v = new VoucherClass();
  v.id = classCount.get(0) + 1;
  classCount.set(v.id);
  v.symbol = symbol;
  v.name = name;
  v.product = product;
  v.divisible = divisible;
  v.cap = cap;
  v.issuer = issuer;
  v.createdAt = Context.blockHeight();
  saveConfig(v);
  saveStats(v);
  symbols.set(symbol, v.id);
  emit<VoucherClass>("voucher-created", v, [symbol, issuer.toHex()]);
  return v.id;
}

/** The issuer names the partners whose certifications it accepts for holders (V3). */
export function setCertifiers(id: u64, certifiers: Array<Address>): void {
  const v = voucher(id);
  requireIssuer(v);
  ensure(certifiers.length <= 32, "TOO_MANY", "at most 32 accepted certifiers");
  v.certifiers = certifiers;
  saveConfig(v);
  emit<Array<Address>>("certifiers-set", certifiers, [v.symbol]);
}

function requireIssuable(v: VoucherClass, amount: U128): void {
  if (v.issuanceRestricted) fail("ISSUANCE_RESTRICTED", "a regulator has restricted issuance");
  if (v.frozen) fail("VOUCHER_FROZEN", "the voucher is frozen by a regulator");
  const counted = v.divisible ? v.supply : v.issued;
  if (counted.add(amount).gt(v.cap)) fail("CAP_EXCEEDED", "issuing this would exceed the supply cap");
}

/** The issuer issues an amount of a divisible voucher to an eligible account (V2). */
export function issue(id: u64, to: Address, amount: U128): void {
  const v = voucher(id);
  requireIssuer(v);
  if (!v.divisible) fail("NOT_DIVISIBLE", "use issueItem for a voucher of unique items");
  if (amount.isZero()) fail("BAD_AMOUNT", "the amount must be positive");
  requireIssuable(v, amount);
  requireHolderActive(v, to);
  requireEligible(v, [to]);
  v.supply = v.supply.add(amount);
  v.issued = v.issued.add(amount);
  credit(v, to, amount);
  saveStats(v);
  emit<U128>("issued", amount, [v.symbol, to.toHex()]);
}

/** The issuer issues one unique item (a ticket, a certificate) to an eligible account (V1, V2). */
export function issueItem(id: u64, to: Address, itemId: string, meta: string): void {
  const v = voucher(id);
  requireIssuer(v);
  if (v.divisible) fail("NOT_INDIVISIBLE", "use issue for a divisible voucher");
  ensure(itemId.length > 0 && itemId.length <= 128, "BAD_ITEM", "item ids are 1 to 128 characters");
  const k = itemKey(id, itemId);
  if (items.has(k)) fail("ITEM_EXISTS", "an item with this id exists");
  const one = U128.from(1);
  requireIssuable(v, one);
  requireHolderActive(v, to);
  requireEligible(v, [to]);
  const it = new Item();
  it.id = itemId;
  it.owner = to;
  it.meta = meta;
  it.issuedAt = Context.blockHeight();
  items.set(k, it);
  v.supply = v.supply.add(one);
  v.issued = v.issued.add(one);
  credit(v, to, one);
  saveStats(v);
  emit<Item>("item-issued", it, [v.symbol, to.toHex()]);
}

/** A holder transfers an amount (V2, V3, V4). */
export function transfer(id: u64, to: Address, amount: U128): void {
  const v = voucher(id);
  const from = Context.caller();
  if (!v.divisible) fail("NOT_DIVISIBLE", "use transferItem for a voucher of unique items");
  if (amount.isZero()) fail("BAD_AMOUNT", "the amount must be positive");
  if (from.equals(to)) fail("SELF_TRANSFER", "sender and receiver are the same");
  requireHolderActive(v, from);
  requireHolderActive(v, to);
  requireEligible(v, [from, to]);
  useTransferLimit(v, from, amount);
  debit(v, from, amount);
  credit(v, to, amount);
  v.transferCount += 1;
  saveStats(v);
  emit<U128>("transferred", amount, [v.symbol, from.toHex(), to.toHex()]);
}

/** The owner transfers a unique item. */
export function transferItem(id: u64, to: Address, itemId: string): void {
  const v = voucher(id);
  const from = Context.caller();
  const k = itemKey(id, itemId);
  const it = items.getSome(k, "UNKNOWN_ITEM", "no such item");
  if (!it.owner.equals(from)) fail("NOT_OWNER", "only the item's owner may transfer it");
  if (it.redeemed) fail("REDEEMED", "the item was redeemed");
  if (from.equals(to)) fail("SELF_TRANSFER", "sender and receiver are the same");
  requireHolderActive(v, from);
  requireHolderActive(v, to);
  requireEligible(v, [from, to]);
  const one = U128.from(1);
  useTransferLimit(v, from, one);
  debit(v, from, one);
  credit(v, to, one);
  it.owner = to;
  items.set(k, it);
  v.transferCount += 1;
  saveStats(v);
  emit<Item>("item-transferred", it, [v.symbol, from.toHex(), to.toHex()]);
}

/** The holder redeems (uses up) an amount: a coupon spent, points exchanged. */
export function redeem(id: u64, amount: U128): void {
  const v = voucher(id);
  const from = Context.caller();
  if (!v.divisible) fail("NOT_DIVISIBLE", "use redeemItem for a voucher of unique items");
  if (amount.isZero()) fail("BAD_AMOUNT", "the amount must be positive");
  requireHolderActive(v, from);
  requireNotFrozen(from);
  debit(v, from, amount);
  v.supply = v.supply.sub(amount);
  saveStats(v);
  emit<U128>("redeemed", amount, [v.symbol, from.toHex()]);
}

/** The owner redeems a unique item (a ticket used at the gate); it stays on record as redeemed. */
export function redeemItem(id: u64, itemId: string): void {
  const v = voucher(id);
  const k = itemKey(id, itemId);
  const it = items.getSome(k, "UNKNOWN_ITEM", "no such item");
  if (!it.owner.equals(Context.caller())) fail("NOT_OWNER", "only the item's owner may redeem it");
  if (it.redeemed) fail("REDEEMED", "the item was already redeemed");
  requireHolderActive(v, it.owner);
  requireNotFrozen(it.owner);
  it.redeemed = true;
  items.set(k, it);
  debit(v, it.owner, U128.from(1));
  v.supply = v.supply.sub(U128.from(1));
  saveStats(v);
  emit<Item>("item-redeemed", it, [v.symbol, it.owner.toHex()]);
}

// ---- regulators (V4) ----

export function setCap(id: u64, cap: U128): void {
  requireRegulator();
  const v = voucher(id);
  if (cap.lt(v.divisible ? v.supply : v.issued)) fail("BAD_CAP", "the cap cannot go below what it already counts");
  v.cap = cap;
  saveConfig(v);
  emit<U128>("cap-set", cap, [v.symbol]);
}

export function restrictIssuance(id: u64, restricted: bool): void {
  requireRegulator();
  const v = voucher(id);
  v.issuanceRestricted = restricted;
  saveConfig(v);
  emit<bool>("issuance-restricted", restricted, [v.symbol]);
}

export function freezeVoucher(id: u64, frozen: bool): void {
  requireRegulator();
  const v = voucher(id);
  v.frozen = frozen;
  saveConfig(v);
  emit<bool>("voucher-frozen", frozen, [v.symbol]);
}

export function freezeHolder(id: u64, holder: Address, frozen: bool): void {
  requireRegulator();
  const v = voucher(id);
  const k = holderKey(id, holder);
  if (frozen) frozenHolders.set(k, true);
  else frozenHolders.delete(k);
  emit<bool>("holder-frozen", frozen, [v.symbol, holder.toHex()]);
}

/** At most `amount` per holder every `periodBlocks` blocks (0 and 0: no limit). */
export function setTransferLimit(id: u64, amount: U128, periodBlocks: u64): void {
  requireRegulator();
  const v = voucher(id);
  if (amount.isZero() != (periodBlocks == 0)) fail("BAD_LIMIT", "give both an amount and a period, or neither");
  v.transferLimit = amount;
  v.limitPeriod = periodBlocks;
  saveConfig(v);
  emit<U128>("transfer-limit-set", amount, [v.symbol]);
}

// ---- holdings proofs (V5) ----

/**
 * A custodian commits the root of a Merkle sum tree over what it holds for others. The total it
 * claims must be covered by its own balance: a full-reserve proof. Holders verify their leaf with
 * `verifyHolding`; anyone reads the total.
 */
export function commitHoldings(id: u64, root: Bytes32, total: U128, leafCount: u64): void {
  const v = voucher(id);
  const custodian = Context.caller();
  if (root.isZero() || leafCount == 0) fail("BAD_COMMITMENT", "a commitment has a root and at least one leaf");
  requireHolderActive(v, custodian);
  requireNotFrozen(custodian);
  const balance = balances.get(holderKey(id, custodian), new U128());
  if (balance.lt(total)) fail("UNDER_RESERVED", "the custodian holds less than the total it claims to hold for others");
  const c = new HoldingsCommitment();
  c.custodian = custodian;
  c.root = root;
  c.total = total;
  c.leafCount = leafCount;
  c.balance = balance;
  c.height = Context.blockHeight();
  commitments.set(holderKey(id, custodian), c);
  emit<HoldingsCommitment>("holdings-committed", c, [v.symbol, custodian.toHex()]);
}

function u128Bytes(x: U128): Uint8Array {
  const b = new Uint8Array(16);
  store<u64>(b.dataStart, x.lo);
  store<u64>(b.dataStart + 8, x.hi);
  return b;
}

/** Leaf hash: sha256(0x00 || holder digest || amount as 16 bytes little-endian). */
function leafHash(holder: Bytes32, amount: U128): Bytes32 {
  const b = new Uint8Array(1 + 32 + 16);
  b[0] = 0;
  b.set(holder.bytes, 1);
  b.set(u128Bytes(amount), 33);
  return sha256(b);
}

/** Node hash: sha256(0x01 || left hash || left sum || right hash || right sum). */
function nodeHash(lh: Bytes32, ls: U128, rh: Bytes32, rs: U128): Bytes32 {
  const b = new Uint8Array(1 + 48 + 48);
  b[0] = 1;
  b.set(lh.bytes, 1);
  b.set(u128Bytes(ls), 33);
  b.set(rh.bytes, 49);
  b.set(u128Bytes(rs), 81);
  return sha256(b);
}

/** Whether (holder, amount) is a leaf of the custodian's committed tree, with sums adding up to the total. */
@view
export function verifyHolding(id: u64, custodian: Address, holder: Bytes32, amount: U128, proof: Array<ProofStep>): bool {
  const k = holderKey(id, custodian);
  if (!commitments.has(k)) return false;
  const c = commitments.getSome(k);
  // The claim holds only while the custodian still has what it committed to.
  if (balances.get(k, new U128()).lt(c.total)) return false;
  let h = leafHash(holder, amount);
  let sum = amount;
  for (let i = 0; i < proof.length; i++) {
    const s = proof[i];
    if (s.left) h = nodeHash(s.hash, s.sum, h, sum);
    else h = nodeHash(h, sum, s.hash, s.sum);
    sum = sum.add(s.sum);
  }
  return h.equals(c.root) && sum.eq(c.total);
}

// ---- views and reports ----

@view
export function getVoucher(id: u64): VoucherClass | null {
  return classes.has(id) ? voucher(id) : null;
}

@view
export function voucherBySymbol(symbol: string): VoucherClass | null {
  return symbols.has(symbol) ? voucher(symbols.getSome(symbol)) : null;
}

@view
export function balanceOf(id: u64, holder: Address): U128 {
  return balances.get(holderKey(id, holder), new U128());
}

@view
export function getItem(id: u64, itemId: string): Item | null {
  const k = itemKey(id, itemId);
  return items.tryGet(k);
}

@view
export function isHolderFrozen(id: u64, holder: Address): bool {
  return frozenHolders.get(holderKey(id, holder), false);
}

@view
export function holdingsCommitment(id: u64, custodian: Address): HoldingsCommitment | null {
  const k = holderKey(id, custodian);
  return commitments.tryGet(k);
}
