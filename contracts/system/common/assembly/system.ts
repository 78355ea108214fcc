// What every system contract shares: the system contracts' addresses, roles and permissions, and
// typed calls to the admission contract. The addresses are sha256("brop:system:" + name), the same
// values contracts/system/index.ts computes on the TypeScript side (a test checks they agree).
import { Bytes32, Address, Encoder, encodeValue, decode, callContract, fail } from "@brop/sdk";
import { Standing } from "./records";

function fromHex(hex: string): Bytes32 {
  const b = new Uint8Array(32);
  for (let i = 0; i < 32; i++) b[i] = <u8>I32.parseInt(hex.substr(i * 2, 2), 16);
  return new Bytes32(b);
}

export const ADMISSION: Address = fromHex("ecc6943fcd2be0b536ffe4c72c2d83a9ae1edf8e52b668267840505e5461c86e");
export const IDENTITY: Address = fromHex("a86d16ab48d786e2bdded2a1f986b34128318927b7d9af8056b74ccf3e4998ab");
export const EVIDENCE: Address = fromHex("96e10a7d767e699f58bd61a73db4280af8436e3230075270db19a8617aa8965d");
export const VOUCHER: Address = fromHex("cf0d00b47c6ff0db0dd31395e089d61555142fe8028b99026de43de46f19b354");
export const QUOTA: Address = fromHex("19c87e3a974562e8cdc4521d6a174440a9fb0c77610d25255b2ecd8173ef0a12");
export const GOVERNANCE: Address = fromHex("f78dc10178acef0d72d2465568916a4ed29dd21471efe7f703b9caa522d22c88");

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

function args2(a: Address, b: u32): Uint8Array {
  const e = new Encoder();
  encodeValue<Bytes32>(e, a);
  encodeValue<u32>(e, b);
  return e.finish();
}

function args1(a: Address): Uint8Array {
  const e = new Encoder();
  encodeValue<Bytes32>(e, a);
  return e.finish();
}

/** A view of another system contract; its failure is a failure of the system, not of the caller. */
export function systemView(target: Address, method: string, args: Uint8Array): Uint8Array {
  const r = callContract(target, method, args);
  if (!r.ok) fail("SYSTEM_CALL_FAILED", method + ": " + String.UTF8.decode(r.data.buffer));
  return r.data;
}

/** Whether `who` is an active partner holding every permission in `perms`. */
export function partnerHas(who: Address, perms: u32): bool {
  return decode<bool>(systemView(ADMISSION, "hasPermission", args2(who, perms)));
}

export function roleOf(who: Address): u8 {
  return decode<u8>(systemView(ADMISSION, "roleOf", args1(who)));
}

export function requirePartner(who: Address, perms: u32): void {
  if (!partnerHas(who, perms)) fail("NOT_PERMITTED", "the caller is not an active partner with the required permission");
}

/** Fails if the account is frozen in identity (a regulator command executed by its partner, SPEC S3). */
export function requireNotFrozen(account: Address): void {
  const e = new Encoder();
  encodeValue<Bytes32>(e, account);
  encodeValue<Array<Address>>(e, []);
  if (decode<Standing>(systemView(IDENTITY, "standingWith", e.finish())).frozen) fail("ACCOUNT_FROZEN", "the account is frozen");
}
