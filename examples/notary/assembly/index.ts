// A small notary contract: register a document digest under a key, let others witness it, look it up.
import { Context, PersistentMap, Bytes32, Address, emit, fail, ensure } from "@brop/sdk";
import { Notarisation } from "./model";

const byKey = new PersistentMap<string, Notarisation>("n");
const countByOwner = new PersistentMap<Address, u32>("c");

/** Registers `digest` under `key`; returns the block height it was recorded at. */
export function register(key: string, digest: Bytes32, note: string | null): u64 {
  ensure(key.length > 0 && key.length <= 128, "BAD_KEY", "keys are 1 to 128 characters");
  if (byKey.has(key)) fail("ALREADY_REGISTERED", "the key " + key + " is taken");
  const n = new Notarisation();
  n.owner = Context.caller();
  n.digest = digest;
  n.height = Context.blockHeight();
  n.time = Context.blockTime();
  n.note = note;
  byKey.set(key, n);
  countByOwner.set(n.owner, countByOwner.get(n.owner, 0) + 1);
  emit<Notarisation>("registered", n, [key]);
  return n.height;
}

/** Adds the caller as a witness of `key` (once per account; not the owner). */
export function witness(key: string): u32 {
  const n = byKey.getSome(key, "NOT_FOUND", "no document under " + key);
  const me = Context.caller();
  if (n.owner.equals(me)) fail("OWNER_CANNOT_WITNESS", "the owner cannot witness their own document");
  for (let i = 0; i < n.witnesses.length; i++) if (n.witnesses[i].equals(me)) fail("ALREADY_WITNESSED", "already witnessed");
  n.witnesses.push(me);
  byKey.set(key, n);
  emit<Address>("witnessed", me, [key]);
  return n.witnesses.length;
}

@view
export function get(key: string): Notarisation | null {
  return byKey.has(key) ? byKey.getSome(key) : null;
}

/** Whether `digest` is what was registered under `key`. */
@view
export function verify(key: string, digest: Bytes32): bool {
  return byKey.has(key) && byKey.getSome(key).digest.equals(digest);
}

@view
export function countOf(owner: Address): u32 {
  return countByOwner.get(owner, 0);
}
