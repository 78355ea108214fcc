// The SDK's persistent collections, exercised through plain methods (built like any contract).
import { PersistentMap, PersistentVector, Singleton, Context, Bytes32, U128, fail, log } from "@brop/sdk";

@serializable
export class Note {
  text: string = "";
  stars: u8 = 0;
}

const notes = new PersistentVector<Note>("v");
const scores = new PersistentMap<string, u64>("s");
const byHeight = new PersistentMap<u64, string>("h");
const owner = new Singleton<Bytes32>("o");
const total = new Singleton<U128>("t");

export function push(text: string, stars: u8): u32 {
  const n = new Note();
  n.text = text;
  n.stars = stars;
  return notes.push(n);
}

export function setNote(index: u32, text: string): void {
  const n = notes.get(index);
  n.text = text;
  notes.set(index, n);
}

export function pop(): Note {
  return notes.pop();
}

@view
export function noteAt(index: u32): Note {
  return notes.get(index);
}

@view
export function count(): u32 {
  return notes.length;
}

export function score(name: string, points: u64): u64 {
  const next = scores.get(name, 0) + points;
  scores.set(name, next);
  byHeight.set(Context.blockHeight() * 1000 + <u64>name.length, name);
  return next;
}

/** Names in key order, `limit` at a time after the storage key `after` (empty: from the start). */
@view
export function page(limit: i32, after: Uint8Array): Array<string> {
  return byHeight.values(limit, after.length == 0 ? null : after);
}

@view
export function pageKeys(limit: i32, after: Uint8Array): Array<Uint8Array> {
  return byHeight.rawKeys(limit, after.length == 0 ? null : after);
}

export function claim(): void {
  if (owner.exists()) fail("TAKEN", "already owned");
  owner.set(Context.caller());
  log("claimed by " + Context.caller().toHex());
}

@view
export function ownerOf(): Bytes32 | null {
  return owner.exists() ? owner.getSome() : null;
}

export function add(amount: U128): U128 {
  const t = total.get(new U128()).add(amount);
  total.set(t);
  return t;
}

export function removeScore(name: string): bool {
  return scores.delete(name);
}

@view
export function scoreOf(name: string): u64 {
  return scores.get(name, 0);
}
