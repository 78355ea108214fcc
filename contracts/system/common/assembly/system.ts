// What every system contract shares: the system contracts' addresses, roles and permissions, and
// typed calls to the admission contract. The addresses are sha256("brop:system:" + name), the same
// values contracts/system/index.ts computes on the TypeScript side (a test checks they agree).
// Also the checks every contract makes against admission's and identity's records.
import { Bytes32, Address, ForeignMap, ForeignSingleton, callContract, fail } from "@brop/sdk";
import { Standing, Partner, Regulator, Operator, Summary, STATUS_ACTIVE, LEVEL_REGISTERED, LEVEL_ANONYMOUS, LEVEL_PHONE,
  ADMISSION_PARTNERS, ADMISSION_REGULATORS, ADMISSION_OPERATOR, IDENTITY_SUMMARIES } from "./records";

/** 32 bytes of static data as a Bytes32: a copy, no parsing, so initialisation stays cheap (every call pays it). */
function fromStatic(bytes: StaticArray<u8>): Bytes32 {
  const b = new Uint8Array(32);
  memory.copy(b.dataStart, changetype<usize>(bytes), 32);
  return new Bytes32(b);
}

// sha256("brop:system:admission") = ecc6943fcd2be0b536ffe4c72c2d83a9ae1edf8e52b668267840505e5461c86e
const ADMISSION_BYTES: StaticArray<u8> = [0xec, 0xc6, 0x94, 0x3f, 0xcd, 0x2b, 0xe0, 0xb5, 0x36, 0xff, 0xe4, 0xc7, 0x2c, 0x2d, 0x83, 0xa9, 0xae, 0x1e, 0xdf, 0x8e, 0x52, 0xb6, 0x68, 0x26, 0x78, 0x40, 0x50, 0x5e, 0x54, 0x61, 0xc8, 0x6e];
export const ADMISSION: Address = fromStatic(ADMISSION_BYTES);
// sha256("brop:system:identity") = a86d16ab48d786e2bdded2a1f986b34128318927b7d9af8056b74ccf3e4998ab
const IDENTITY_BYTES: StaticArray<u8> = [0xa8, 0x6d, 0x16, 0xab, 0x48, 0xd7, 0x86, 0xe2, 0xbd, 0xde, 0xd2, 0xa1, 0xf9, 0x86, 0xb3, 0x41, 0x28, 0x31, 0x89, 0x27, 0xb7, 0xd9, 0xaf, 0x80, 0x56, 0xb7, 0x4c, 0xcf, 0x3e, 0x49, 0x98, 0xab];
export const IDENTITY: Address = fromStatic(IDENTITY_BYTES);
// sha256("brop:system:evidence") = 96e10a7d767e699f58bd61a73db4280af8436e3230075270db19a8617aa8965d
const EVIDENCE_BYTES: StaticArray<u8> = [0x96, 0xe1, 0x0a, 0x7d, 0x76, 0x7e, 0x69, 0x9f, 0x58, 0xbd, 0x61, 0xa7, 0x3d, 0xb4, 0x28, 0x0a, 0xf8, 0x43, 0x6e, 0x32, 0x30, 0x07, 0x52, 0x70, 0xdb, 0x19, 0xa8, 0x61, 0x7a, 0xa8, 0x96, 0x5d];
export const EVIDENCE: Address = fromStatic(EVIDENCE_BYTES);
// sha256("brop:system:voucher") = cf0d00b47c6ff0db0dd31395e089d61555142fe8028b99026de43de46f19b354
const VOUCHER_BYTES: StaticArray<u8> = [0xcf, 0x0d, 0x00, 0xb4, 0x7c, 0x6f, 0xf0, 0xdb, 0x0d, 0xd3, 0x13, 0x95, 0xe0, 0x89, 0xd6, 0x15, 0x55, 0x14, 0x2f, 0xe8, 0x02, 0x8b, 0x99, 0x02, 0x6d, 0xe4, 0x3d, 0xe4, 0x6f, 0x19, 0xb3, 0x54];
export const VOUCHER: Address = fromStatic(VOUCHER_BYTES);
// sha256("brop:system:quota") = 19c87e3a974562e8cdc4521d6a174440a9fb0c77610d25255b2ecd8173ef0a12
const QUOTA_BYTES: StaticArray<u8> = [0x19, 0xc8, 0x7e, 0x3a, 0x97, 0x45, 0x62, 0xe8, 0xcd, 0xc4, 0x52, 0x1d, 0x6a, 0x17, 0x44, 0x40, 0xa9, 0xfb, 0x0c, 0x77, 0x61, 0x0d, 0x25, 0x25, 0x5b, 0x2e, 0xcd, 0x81, 0x73, 0xef, 0x0a, 0x12];
export const QUOTA: Address = fromStatic(QUOTA_BYTES);
// sha256("brop:system:governance") = f78dc10178acef0d72d2465568916a4ed29dd21471efe7f703b9caa522d22c88
const GOVERNANCE_BYTES: StaticArray<u8> = [0xf7, 0x8d, 0xc1, 0x01, 0x78, 0xac, 0xef, 0x0d, 0x72, 0xd2, 0x46, 0x55, 0x68, 0x91, 0x6a, 0x4e, 0xd2, 0x9d, 0xd2, 0x14, 0x71, 0xef, 0xe7, 0xf7, 0x03, 0xb9, 0xca, 0xa5, 0x22, 0xd2, 0x2c, 0x88];
export const GOVERNANCE: Address = fromStatic(GOVERNANCE_BYTES);

/** Partner permissions (a bit set). */
export const PERM_IDENTITY: u32 = 1;
export const PERM_EVIDENCE: u32 = 2;
export const PERM_VOUCHER: u32 = 4;
export const PERM_ALL: u32 = 7;

/** Roles as the admission contract reports them. */
export const ROLE_NONE: u8 = 0;
export const ROLE_OPERATOR: u8 = 1;
export const ROLE_PARTNER: u8 = 2;
export const ROLE_REGULATOR: u8 = 3;

/** A call to another system contract; its failure is a failure of the system, not of the caller. */
export function systemCall(target: Address, method: string, args: Uint8Array): Uint8Array {
  const r = callContract(target, method, args);
  if (!r.ok) fail("SYSTEM_CALL_FAILED", method + ": " + String.UTF8.decode(r.data.buffer));
  return r.data;
}

// Checks read the owning contract's records directly (a storage read, not a nested call): every
// transaction makes one or two of them, and a nested call costs several times more.
const partners = new ForeignMap<Address, Partner>(ADMISSION, ADMISSION_PARTNERS);
const regulators = new ForeignMap<Address, Regulator>(ADMISSION, ADMISSION_REGULATORS);
const operator = new ForeignSingleton<Operator>(ADMISSION, ADMISSION_OPERATOR);
const summaries = new ForeignMap<Address, Summary>(IDENTITY, IDENTITY_SUMMARIES);

/** Whether `who` is an active partner holding every permission in `perms`. */
export function partnerHas(who: Address, perms: u32): bool {
  const found = partners.tryGet(who);
  if (found === null) return false;
  const p = found!;
  return p.status == STATUS_ACTIVE && (p.permissions & perms) == perms;
}

export function roleOf(who: Address): u8 {
  const op = operator.tryGet();
  if (op !== null && op!.address.equals(who)) return ROLE_OPERATOR;
  if (partners.has(who)) return ROLE_PARTNER;
  if (regulators.has(who)) return ROLE_REGULATOR;
  return ROLE_NONE;
}

export function requirePartner(who: Address, perms: u32): void {
  if (!partnerHas(who, perms)) fail("NOT_PERMITTED", "the caller is not an active partner with the required permission");
}

/** Fails if the account is frozen in identity (a regulator command executed by its partner, SPEC S3). */
export function requireNotFrozen(account: Address): void {
  const s = summaries.tryGet(account);
  if (s !== null && s!.frozen) fail("ACCOUNT_FROZEN", "the account is frozen");
}

/** Partners' active status, each read once: checks of several accounts often meet the same certifier. */
export class ActivePartners {
  private readonly seen: Array<Address> = [];
  private readonly active: Array<bool> = [];
  isActive(who: Address): bool {
    for (let i = 0; i < this.seen.length; i++) if (this.seen[i].equals(who)) return this.active[i];
    const found = partners.tryGet(who);
    const yes = found !== null && found!.status == STATUS_ACTIVE;
    this.seen.push(who);
    this.active.push(yes);
    return yes;
  }
}

/**
 * The account's standing as certified by `trusted` partners (null: by any partner). Self-registration
 * counts as level 1; certifications by a partner that is not active (suspended, S1) do not count.
 */
export function standingOf(account: Address, trusted: Array<Address> | null, partnersSeen: ActivePartners = new ActivePartners()): Standing {
  const s = new Standing();
  const found = summaries.tryGet(account);
  if (found === null) return s;
  const sum = found!;
  s.exists = true;
  s.frozen = sum.frozen;
  s.level = LEVEL_REGISTERED;
  let vouched = false;
  for (let i = 0; i < sum.certs.length; i++) {
    const c = sum.certs[i];
    if (c.level <= s.level && !(c.vouchesEvidence && !vouched)) continue; // adds nothing: skip the partner read
    if (trusted !== null && !containsAddress(trusted!, c.partner)) continue;
    if (!partnersSeen.isActive(c.partner)) continue;
    if (c.level > s.level) s.level = c.level;
    if (c.vouchesEvidence) vouched = true;
  }
  s.evidenceAllowed = !s.frozen && (s.level >= LEVEL_PHONE || (s.level == LEVEL_ANONYMOUS && vouched));
  return s;
}

export function containsAddress(list: Array<Address>, a: Address): bool {
  for (let i = 0; i < list.length; i++) if (list[i].equals(a)) return true;
  return false;
}
