import { Address, Bytes32, U128 } from "@brop/sdk";

/** A voucher (数字凭证) class: fungible amounts or unique items (SPEC V1). */
@serializable
export class VoucherClass {
  id: u64 = 0;
  symbol: string = "";
  name: string = "";
  /** The product or service it stands for. */
  product: string = "";
  /** true: amounts (coupons, points); false: unique items (tickets, certificates). */
  divisible: bool = true;
  /** Divisible: the most that may be outstanding. Indivisible: the most items ever issued (seats, certificates). */
  cap: U128 = new U128();
  /** Outstanding: issued and not redeemed. */
  supply: U128 = new U128();
  /** Ever issued. */
  issued: U128 = new U128();
  /** The issuing partner that manages it. */
  issuer: Address = Bytes32.zero();
  /** Partners (besides the issuer) whose certifications make an account eligible to hold it (V3). */
  certifiers: Array<Address> = [];
  /** Lowest certification level of holders (real name by default, SPEC I3). */
  minLevel: u8 = 4;
  issuanceRestricted: bool = false;
  frozen: bool = false;
  /** Per holder and period, at most this much may be transferred out (0: no limit) (V4). */
  transferLimit: U128 = new U128();
  limitPeriod: u64 = 0;
  holderCount: u64 = 0;
  transferCount: u64 = 0;
  createdAt: u64 = 0;
}

/** One unique item of an indivisible voucher. */
@serializable
export class Item {
  id: string = "";
  owner: Address = Bytes32.zero();
  meta: string = "";
  issuedAt: u64 = 0;
  redeemed: bool = false;
}

/** A custodian's commitment to what it holds for others (V5): a Merkle sum tree's root and total. */
@serializable
export class HoldingsCommitment {
  custodian: Address = Bytes32.zero();
  root: Bytes32 = Bytes32.zero();
  total: U128 = new U128();
  leafCount: u64 = 0;
  /** The custodian's on-chain balance when it committed: at least `total` (full reserve). */
  balance: U128 = new U128();
  height: u64 = 0;
}

/** One step of a holdings proof: the sibling's hash and sum, and whether it is on the left. */
@serializable
export class ProofStep {
  hash: Bytes32 = Bytes32.zero();
  sum: U128 = new U128();
  left: bool = false;
}
