import { Address, Bytes32 } from "@brop/sdk";

export const STATUS_ACTIVE: u8 = 1;
export const STATUS_SUSPENDED: u8 = 2;

/** An admitted partner (合作方). */
@serializable
export class Partner {
  address: Address = Bytes32.zero();
  name: string = "";
  /** PERM_* bits: identity certification, evidence, vouchers. */
  permissions: u32 = 0;
  /** Digest of the signed admission agreement (SPEC L1). */
  legalDigest: Bytes32 = Bytes32.zero();
  status: u8 = STATUS_ACTIVE;
  admittedAt: u64 = 0;
  /** The regulator command that suspended the partner, 0 if none. */
  suspendedBy: u64 = 0;
}

/** A registered regulator (监管方). */
@serializable
export class Regulator {
  address: Address = Bytes32.zero();
  name: string = "";
  legalDigest: Bytes32 = Bytes32.zero();
  since: u64 = 0;
}

export const COMMAND_PENDING: u8 = 1;
export const COMMAND_EXECUTED: u8 = 2;

/**
 * A regulator's command (SPEC S1, S3). Against a partner it is executed by the operator here;
 * against a user account it is executed by that user's partner through the identity or voucher
 * contract, which records the execution here. Either way the legal proof digest is stored.
 */
@serializable
export class Command {
  id: u64 = 0;
  regulator: Address = Bytes32.zero();
  target: Address = Bytes32.zero();
  /** suspend-partner, reinstate-partner, freeze-account, unfreeze-account, or a voucher action. */
  action: string = "";
  /** Digest of the regulator's signed order. */
  orderDigest: Bytes32 = Bytes32.zero();
  issuedAt: u64 = 0;
  status: u8 = COMMAND_PENDING;
  executedBy: Address = Bytes32.zero();
  /** Digest of the legal proof of execution. */
  proofDigest: Bytes32 = Bytes32.zero();
  executedAt: u64 = 0;
}

/** The operator (运营方) and its agreement digest. */
@serializable
export class Operator {
  address: Address = Bytes32.zero();
  legalDigest: Bytes32 = Bytes32.zero();
  since: u64 = 0;
}
