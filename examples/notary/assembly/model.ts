import { Address, Bytes32 } from "@brop/sdk";

/** One notarised document: who registered which digest, when. */
@serializable
export class Notarisation {
  owner: Address = Bytes32.zero();
  digest: Bytes32 = Bytes32.zero();
  height: u64 = 0;
  time: u64 = 0;
  note: string | null = null;
  witnesses: Array<Address> = [];
}
