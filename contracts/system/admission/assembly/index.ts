// Admission (业务准入): the operator admits partners with permissions and registers regulators, each
// with the digest of their signed legal agreement (SPEC L1); regulators issue commands; commands against
// partners are executed by the operator with a legal proof digest (SPEC S1).
import { Context, PersistentMap, Singleton, Bytes32, Address, emit, fail, ensure } from "@brop/sdk";
import { IDENTITY, VOUCHER, PERM_ALL, partnerHas, roleOf as roleOfAccount } from "../../common/assembly/system";
import { ADMISSION_OPERATOR, ADMISSION_PARTNERS, ADMISSION_REGULATORS } from "../../common/assembly/records";
import { Partner, Regulator, Command, Operator, STATUS_ACTIVE, STATUS_SUSPENDED, COMMAND_PENDING, COMMAND_EXECUTED } from "./model";

const operator = new Singleton<Operator>(ADMISSION_OPERATOR);
const partners = new PersistentMap<Address, Partner>(ADMISSION_PARTNERS);
const regulators = new PersistentMap<Address, Regulator>(ADMISSION_REGULATORS);
const commands = new PersistentMap<u64, Command>("c");
const commandCount = new Singleton<u64>("cn");

const PARTNER_ACTIONS = ["suspend-partner", "reinstate-partner"];
const ACCOUNT_ACTIONS = ["freeze-account", "unfreeze-account"];

function requireOperator(): Operator {
  const op = operator.getSome("NOT_INITIALISED", "the admission contract has no operator yet");
  if (!op.address.equals(Context.caller())) fail("NOT_OPERATOR", "only the operator may do this");
  return op;
}

function requireRegulator(): Regulator {
  return regulators.getSome(Context.caller(), "NOT_REGULATOR", "only a registered regulator may do this");
}

function nonZero(d: Bytes32, what: string): void {
  if (d.isZero()) fail("MISSING_DIGEST", what + " must be the digest of a signed document");
}

/** Sets the operator once, at genesis. */
export function init(operatorAddress: Address, legalDigest: Bytes32): void {
  if (operator.exists()) fail("ALREADY_INITIALISED", "the operator is already set");
  nonZero(legalDigest, "the operator's legal document");
  setOperator(operatorAddress, legalDigest);
}

function setOperator(address: Address, legalDigest: Bytes32): void {
  const op = new Operator();
  op.address = address;
  op.legalDigest = legalDigest;
  op.since = Context.blockHeight();
  operator.set(op);
  emit<Operator>("operator-set", op);
}

function checkPermissions(permissions: u32): void {
  ensure(permissions != 0 && (permissions & ~PERM_ALL) == 0, "BAD_PERMISSIONS", "permissions are a non-empty set of identity (1), evidence (2), voucher (4)");
}

/** Hands the operator role to another account (with its own signed agreement). */
export function transferOperator(newOperator: Address, legalDigest: Bytes32): void {
  requireOperator();
  nonZero(legalDigest, "the new operator's legal document");
  if (partners.has(newOperator) || regulators.has(newOperator)) fail("ROLE_CONFLICT", "a partner or regulator cannot be the operator");
  setOperator(newOperator, legalDigest);
}

export function admitPartner(partner: Address, name: string, permissions: u32, legalDigest: Bytes32): void {
  requireOperator();
  ensure(name.length > 0 && name.length <= 128, "BAD_NAME", "partner names are 1 to 128 characters");
  checkPermissions(permissions);
  nonZero(legalDigest, "the partner's admission agreement");
  if (partners.has(partner)) fail("ALREADY_ADMITTED", "this account is already a partner");
  if (regulators.has(partner) || operator.getSome().address.equals(partner)) fail("ROLE_CONFLICT", "a regulator or the operator cannot be a partner");
  const p = new Partner();
  p.address = partner;
  p.name = name;
  p.permissions = permissions;
  p.legalDigest = legalDigest;
  p.admittedAt = Context.blockHeight();
  partners.set(partner, p);
  emit<Partner>("partner-admitted", p, [partner.toHex()]);
}

export function setPermissions(partner: Address, permissions: u32): void {
  requireOperator();
  checkPermissions(permissions);
  const p = partners.getSome(partner, "UNKNOWN_PARTNER", "no such partner");
  p.permissions = permissions;
  partners.set(partner, p);
  emit<Partner>("partner-permissions", p, [partner.toHex()]);
}

export function registerRegulator(regulator: Address, name: string, legalDigest: Bytes32): void {
  requireOperator();
  ensure(name.length > 0 && name.length <= 128, "BAD_NAME", "regulator names are 1 to 128 characters");
  nonZero(legalDigest, "the regulator's mandate");
  if (regulators.has(regulator)) fail("ALREADY_REGISTERED", "this account is already a regulator");
  if (partners.has(regulator) || operator.getSome().address.equals(regulator)) fail("ROLE_CONFLICT", "a partner or the operator cannot be a regulator");
  const r = new Regulator();
  r.address = regulator;
  r.name = name;
  r.legalDigest = legalDigest;
  r.since = Context.blockHeight();
  regulators.set(regulator, r);
  emit<Regulator>("regulator-registered", r, [regulator.toHex()]);
}

export function removeRegulator(regulator: Address): void {
  requireOperator();
  if (!regulators.delete(regulator)) fail("NOT_REGULATOR", "no such regulator");
  emit<Address>("regulator-removed", regulator, [regulator.toHex()]);
}

function known(list: string[], action: string): bool {
  for (let i = 0; i < list.length; i++) if (list[i] == action) return true;
  return false;
}

/** A regulator's command against a partner or an account; returns its id. */
export function issueCommand(target: Address, action: string, orderDigest: Bytes32): u64 {
  const reg = requireRegulator();
  nonZero(orderDigest, "the regulator's order");
  if (known(PARTNER_ACTIONS, action)) {
    if (!partners.has(target)) fail("UNKNOWN_PARTNER", "the command's target is not a partner");
  } else if (!known(ACCOUNT_ACTIONS, action)) {
    fail("UNKNOWN_ACTION", "unknown command action: " + action);
  }
  const id = commandCount.get(0) + 1;
  commandCount.set(id);
  const c = new Command();
  c.id = id;
  c.regulator = reg.address;
  c.target = target;
  c.action = action;
  c.orderDigest = orderDigest;
  c.issuedAt = Context.blockHeight();
  commands.set(id, c);
  emit<Command>("command-issued", c, [target.toHex(), action]);
  return id;
}

function pending(id: u64): Command {
  const c = commands.getSome(id, "UNKNOWN_COMMAND", "no such command");
  if (c.status != COMMAND_PENDING) fail("COMMAND_NOT_PENDING", "the command was already executed");
  if (!regulators.has(c.regulator)) fail("REGULATOR_REMOVED", "the regulator that issued the command is no longer registered");
  return c;
}

function executed(c: Command, by: Address, proofDigest: Bytes32): void {
  nonZero(proofDigest, "the legal proof of execution");
  c.status = COMMAND_EXECUTED;
  c.executedBy = by;
  c.proofDigest = proofDigest;
  c.executedAt = Context.blockHeight();
  commands.set(c.id, c);
  emit<Command>("command-executed", c, [c.target.toHex(), c.action]);
}

/** The operator executes a command against a partner (suspend or reinstate). */
export function executeCommand(id: u64, proofDigest: Bytes32): void {
  const op = requireOperator();
  const c = pending(id);
  if (!known(PARTNER_ACTIONS, c.action)) fail("WRONG_EXECUTOR", "commands against accounts are executed by the account's partner");
  const p = partners.getSome(c.target, "UNKNOWN_PARTNER", "the command's target is not a partner");
  if (c.action == "suspend-partner") {
    p.status = STATUS_SUSPENDED;
    p.suspendedBy = id;
  } else {
    p.status = STATUS_ACTIVE;
    p.suspendedBy = 0;
  }
  partners.set(p.address, p); // identity and voucher read the status from here: certifications stop counting
  executed(c, op.address, proofDigest);
}

/**
 * The identity or voucher contract records that it executed a command against an account on behalf
 * of `executor` (the account's partner). Only those system contracts may call this.
 */
export function recordExecution(id: u64, executor: Address, proofDigest: Bytes32): Command {
  const caller = Context.caller();
  if (!caller.equals(IDENTITY) && !caller.equals(VOUCHER)) fail("NOT_SYSTEM", "only the identity and voucher contracts record executions");
  const c = pending(id);
  if (!known(ACCOUNT_ACTIONS, c.action)) fail("WRONG_EXECUTOR", "commands against partners are executed by the operator");
  executed(c, executor, proofDigest);
  return c;
}

@view
export function getOperator(): Operator | null {
  return operator.exists() ? operator.getSome() : null;
}

@view
export function getPartner(partner: Address): Partner | null {
  return partners.tryGet(partner);
}

@view
export function getRegulator(regulator: Address): Regulator | null {
  return regulators.tryGet(regulator);
}

@view
export function getCommand(id: u64): Command | null {
  return commands.tryGet(id);
}

/** Whether `who` is an active (not suspended) partner holding every permission in `permissions`. */
@view
export function hasPermission(who: Address, permissions: u32): bool {
  return partnerHas(who, permissions);
}

@view
export function isRegulator(who: Address): bool {
  return regulators.has(who);
}

@view
export function roleOf(who: Address): u8 {
  return roleOfAccount(who);
}
