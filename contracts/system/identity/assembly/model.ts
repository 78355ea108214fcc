import { Address, Bytes32 } from "@brop/sdk";

export { LEVEL_NONE, LEVEL_REGISTERED, LEVEL_ANONYMOUS, LEVEL_PHONE, LEVEL_REAL_NAME, LEVEL_CERTIFICATE, CertLevel, Summary, Standing } from "../../common/assembly/records";

/** A user account (SPEC I1): a stable address and system id, operated by its keys. */
@serializable
export class Account {
  id: u64 = 0;
  address: Address = Bytes32.zero();
  name: string | null = null;
  /** Ed25519 public keys that may sign for the account. */
  keys: Array<Bytes32> = [];
  registeredBy: Address = Bytes32.zero();
  /**
   * The user's partner: the one that may reset its keys (I5) and executes regulator commands
   * against it (S3). The registering partner, or one the account chooses; zero for none.
   */
  userPartner: Address = Bytes32.zero();
  createdAt: u64 = 0;
  frozen: bool = false;
  /** The regulator command behind the current freeze, 0 if none. */
  frozenBy: u64 = 0;
}

/** One partner's certification of an account (SPEC I2-I4). */
@serializable
export class Certification {
  partner: Address = Bytes32.zero();
  level: u8 = 0;
  /** Salted digest of the identity data; the partner keeps the plaintext and the salt. */
  identityDigest: Bytes32 = Bytes32.zero();
  /** The partner vouches for the account's evidence registrations (needed at the anonymous level). */
  vouchesEvidence: bool = false;
  certifiedAt: u64 = 0;
}

/** A key reset by a certifying partner (SPEC I5). */
@serializable
export class KeyReset {
  partner: Address = Bytes32.zero();
  /** Digest of the user's application and certification materials. */
  materialsDigest: Bytes32 = Bytes32.zero();
  newKeys: Array<Bytes32> = [];
  height: u64 = 0;
}

/** A user's grant of access to data held by another party (SPEC I7). */
@serializable
export class Grant {
  id: u64 = 0;
  user: Address = Bytes32.zero();
  grantee: Address = Bytes32.zero();
  holder: Address = Bytes32.zero();
  scope: string = "";
  /** Block time (ms) after which the grant lapses; 0: no expiry. */
  expiresAt: u64 = 0;
  revoked: bool = false;
  grantedAt: u64 = 0;
}
