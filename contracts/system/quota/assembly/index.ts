// Quota (额度): points that meter platform load (SPEC Q1-Q3). Each role gets an allowance per period
// (refilled, not accumulated); each transaction costs base + per byte + per 1,000 gas; points are not
// transferable. The node charges the payer through `charge` as a system call and refuses a transaction
// whose payer cannot pay.
import { Context, PersistentMap, Singleton, Bytes32, Address, emit, fail, ensure } from "@brop/sdk";
import { ROLE_OPERATOR, ROLE_PARTNER, ROLE_REGULATOR, roleOf } from "../../common/assembly/system";

@serializable
export class Schedule {
  base: u64 = 100;
  perByte: u64 = 1;
  perKiloGas: u64 = 1;
  /** Blocks per period: 1,200 blocks of 3 s is an hour. */
  periodBlocks: u64 = 1200;
  operatorAllowance: u64 = 100_000_000;
  partnerAllowance: u64 = 10_000_000;
  regulatorAllowance: u64 = 1_000_000;
  userAllowance: u64 = 100_000;
}

@serializable
export class Usage {
  period: u64 = 0;
  used: u64 = 0;
}

const schedule = new Singleton<Schedule>("s");
const usage = new PersistentMap<Address, Usage>("u");
const overrides = new PersistentMap<Address, u64>("o");

function current(): Schedule {
  return schedule.get(new Schedule());
}

function requireOperator(): void {
  if (roleOf(Context.caller()) != ROLE_OPERATOR) fail("NOT_OPERATOR", "only the operator may do this");
}

function allowanceOf(s: Schedule, account: Address): u64 {
  if (overrides.has(account)) return overrides.getSome(account);
  const role = roleOf(account);
  if (role == ROLE_OPERATOR) return s.operatorAllowance;
  if (role == ROLE_PARTNER) return s.partnerAllowance;
  if (role == ROLE_REGULATOR) return s.regulatorAllowance;
  return s.userAllowance;
}

function usedNow(s: Schedule, account: Address): Usage {
  const period = Context.blockHeight() / s.periodBlocks;
  const u = usage.get(account, new Usage());
  if (u.period != period) {
    u.period = period;
    u.used = 0;
  }
  return u;
}

// Saturating: a schedule or a request near 2^64 costs "everything", never a wrapped-around small number.
const U64_MAX: u64 = 0xFFFFFFFFFFFFFFFF;

function addSat(a: u64, b: u64): u64 {
  return a > U64_MAX - b ? U64_MAX : a + b;
}

function mulSat(a: u64, b: u64): u64 {
  return a != 0 && b > U64_MAX / a ? U64_MAX : a * b;
}

function costOf(s: Schedule, bytes: u64, gas: u64): u64 {
  const kiloGas = gas / 1000 + (gas % 1000 != 0 ? 1 : 0);
  return addSat(addSat(s.base, mulSat(s.perByte, bytes)), mulSat(s.perKiloGas, kiloGas));
}

export function setSchedule(next: Schedule): void {
  requireOperator();
  ensure(next.periodBlocks > 0, "BAD_SCHEDULE", "a period is at least one block");
  schedule.set(next);
  emit<Schedule>("schedule-set", next);
}

/** A per-account allowance instead of its role's (0: back to the role's). */
export function setAllowance(account: Address, allowance: u64): void {
  requireOperator();
  if (allowance == 0) overrides.delete(account);
  else overrides.set(account, allowance);
  emit<u64>("allowance-set", allowance, [account.toHex()]);
}

/** What a charge cost and what the payer could pay of it. */
@serializable
export class Charge {
  cost: u64 = 0;
  charged: u64 = 0;
}

/**
 * Charges `payer` for a transaction of `bytes` that used `gas`. Only the node calls this, as the
 * system (the zero address), while executing a block. When the points left this period do not cover
 * the cost, what is left is taken (`charged < cost`): the node then drops the transaction's effects,
 * but the work it caused was not free.
 */
export function charge(payer: Address, bytes: u64, gas: u64): Charge {
  if (!Context.caller().isZero()) fail("NOT_SYSTEM", "only the node charges quota");
  const s = current();
  const c = new Charge();
  c.cost = costOf(s, bytes, gas);
  const u = usedNow(s, payer);
  const allowance = allowanceOf(s, payer);
  const left = u.used >= allowance ? 0 : allowance - u.used;
  c.charged = c.cost <= left ? c.cost : left;
  u.used += c.charged;
  usage.set(payer, u);
  return c;
}

/** One transaction of a block to charge for: who pays, its size in bytes, the gas its call used. */
@serializable
export class ChargeRequest {
  payer: Address = Bytes32.zero();
  bytes: u64 = 0;
  gas: u64 = 0;
}

/**
 * `charge` for each of a block's transactions, in order, in one call: the same charges and the same
 * usage records as one `charge` per transaction. The node uses it when none of the block's calls
 * read or wrote anything a charge reads or writes (so charging between them or after them is the same);
 * otherwise, or when a charge falls short, it charges one transaction at a time.
 */
export function chargeAll(requests: Array<ChargeRequest>): Array<Charge> {
  if (!Context.caller().isZero()) fail("NOT_SYSTEM", "only the node charges quota");
  const s = current();
  const out = new Array<Charge>();
  // Each payer's record and allowance read once; the records written once, in first-seen order.
  const index = new Map<string, i32>();
  const payers = new Array<Address>();
  const usages = new Array<Usage>();
  const allowances = new Array<u64>();
  for (let i = 0; i < requests.length; i++) {
    const r = requests[i];
    const k = r.payer.toHex();
    let at: i32;
    if (index.has(k)) at = index.get(k);
    else {
      at = payers.length;
      index.set(k, at);
      payers.push(r.payer);
      usages.push(usedNow(s, r.payer));
      allowances.push(allowanceOf(s, r.payer));
    }
    const u = usages[at];
    const left = u.used >= allowances[at] ? 0 : allowances[at] - u.used;
    const c = new Charge();
    c.cost = costOf(s, r.bytes, r.gas);
    c.charged = c.cost <= left ? c.cost : left;
    u.used += c.charged;
    out.push(c);
  }
  for (let i = 0; i < payers.length; i++) usage.set(payers[i], usages[i]);
  return out;
}

@view
export function getSchedule(): Schedule {
  return current();
}

/** Points a transaction of `bytes` using `gas` costs. */
@view
export function cost(bytes: u64, gas: u64): u64 {
  return costOf(current(), bytes, gas);
}

/** Points left this period. */
@view
export function balanceOf(account: Address): u64 {
  const s = current();
  const a = allowanceOf(s, account);
  const used = usedNow(s, account).used;
  return used >= a ? 0 : a - used;
}

@view
export function canPay(account: Address, bytes: u64, gas: u64): bool {
  return balanceOf(account) >= cost(bytes, gas);
}
