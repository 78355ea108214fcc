// Records that cross contract boundaries: returned by one system contract, decoded by another.
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

