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

export { Command, COMMAND_PENDING, COMMAND_EXECUTED } from "../../common/assembly/records";

/** The operator (运营方) and its agreement digest. */
@serializable
export class Operator {
  address: Address = Bytes32.zero();
  legalDigest: Bytes32 = Bytes32.zero();
  since: u64 = 0;
}
