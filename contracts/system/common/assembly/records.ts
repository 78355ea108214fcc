// Records that cross contract boundaries: returned by one system contract, decoded by another, or
// read straight from their owner's storage (common/assembly/system.ts) by the others.
import { Address, Bytes32 } from "@brop/sdk";

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

/** What other contracts need to know about an account, as seen by a set of certifiers. */
@serializable
export class Standing {
  exists: bool = false;
  frozen: bool = false;
  level: u8 = 0;
  evidenceAllowed: bool = false;
}


// ---- Admission's records (its storage: operator "op", partners "p", regulators "r") ----

export const ADMISSION_OPERATOR = "op";
export const ADMISSION_PARTNERS = "p";
export const ADMISSION_REGULATORS = "r";

export const STATUS_ACTIVE: u8 = 1;
export const STATUS_SUSPENDED: u8 = 2;

/** The operator (运营方) and its agreement digest. */
@serializable
export class Operator {
  address: Address = Bytes32.zero();
  legalDigest: Bytes32 = Bytes32.zero();
  since: u64 = 0;
}

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

// ---- Identity's records (its storage: account summaries "sm") ----

export const IDENTITY_SUMMARIES = "sm";

/** Certification levels (SPEC I3), weakest to strongest. */
export const LEVEL_NONE: u8 = 0;
export const LEVEL_REGISTERED: u8 = 1;
export const LEVEL_ANONYMOUS: u8 = 2;
export const LEVEL_PHONE: u8 = 3;
export const LEVEL_REAL_NAME: u8 = 4;
export const LEVEL_CERTIFICATE: u8 = 5;

/** One certifier's level, as kept in an account's summary. */
@serializable
export class CertLevel {
  partner: Address = Bytes32.zero();
  level: u8 = 0;
  vouchesEvidence: bool = false;
}

/**
 * What standing checks need about an account, kept in one record so that a check (every voucher
 * transfer, every user's evidence registration) costs one storage read.
 */
@serializable
export class Summary {
  frozen: bool = false;
  certs: Array<CertLevel> = [];
}
