import { Address, Bytes32 } from "@brop/sdk";

/** A registered digest (SPEC E1, E2, E5). */
@serializable
export class Evidence {
  key: string = "";
  digest: Bytes32 = Bytes32.zero();
  registrant: Address = Bytes32.zero();
  /** Business metadata (JSON or any text the registrant chooses). */
  meta: string = "";
  /** Digest of an RFC 3161 time-stamp token for the digest, if the registrant has one (E1). */
  timestampToken: Bytes32 | null = null;
  /** Digest of the off-chain custody address of the file (E5). */
  custody: Bytes32 | null = null;
  height: u64 = 0;
  time: u64 = 0;
  /** For linked records (E3): the chain, this record's position, and the digest before it. */
  chain: string | null = null;
  index: u64 = 0;
  prev: Bytes32 | null = null;
}

/** The end of a chain of linked records (E3). */
@serializable
export class ChainHead {
  length: u64 = 0;
  head: Bytes32 = Bytes32.zero();
  creator: Address = Bytes32.zero();
  /** Besides the creator, who may append (the farm names the factory, the carrier, the shop). */
  writers: Array<Address> = [];
}

export const MULTI_PENDING: u8 = 1;
export const MULTI_EFFECTIVE: u8 = 2;
export const MULTI_REVOKED: u8 = 3;

/** A record that takes effect only when every named party confirms (E4). */
@serializable
export class MultiParty {
  key: string = "";
  digest: Bytes32 = Bytes32.zero();
  proposer: Address = Bytes32.zero();
  meta: string = "";
  parties: Array<Address> = [];
  confirmed: Array<bool> = [];
  status: u8 = MULTI_PENDING;
  proposedAt: u64 = 0;
  /** Height at which it took effect or was revoked. */
  settledAt: u64 = 0;
  revokedBy: Address = Bytes32.zero();
}
