import * as env from "./env";
import { Encoder, decode, encode, encodeValue } from "./codec";
import { fail } from "./errors";
import { Bytes32, Address } from "./bytes32";

/** Raw contract storage: byte keys to byte values, ordered by key. */
export namespace Storage {
  export function get(key: Uint8Array): Uint8Array | null {
    return read(null, key);
  }
  /** A value in another contract's storage (read-only): every entry of every contract is public state. */
  export function getAt(contract: Address, key: Uint8Array): Uint8Array | null {
    return read(contract, key);
  }
  export function set(key: Uint8Array, value: Uint8Array): void {
    env.storage_set(key.dataStart, key.length, value.dataStart, value.length);
  }
  export function has(key: Uint8Array): bool {
    return env.storage_has(key.dataStart, key.length) == 1;
  }
  /** Returns whether the key existed. */
  export function remove(key: Uint8Array): bool {
    return env.storage_remove(key.dataStart, key.length) == 1;
  }
}

function getInto(contract: Address | null, key: Uint8Array, buf: Uint8Array): i32 {
  return contract === null
    ? env.storage_get(key.dataStart, key.length, buf.dataStart, buf.length)
    : env.storage_get_at(contract.bytes.dataStart, key.dataStart, key.length, buf.dataStart, buf.length);
}

// Values are read into this buffer first, then copied out at their exact size: one allocation per read.
const readBuffer = new Uint8Array(256);

function read(contract: Address | null, key: Uint8Array): Uint8Array | null {
  const n = getInto(contract, key, readBuffer);
  if (n < 0) return null;
  if (n > readBuffer.length) {
    const big = new Uint8Array(n);
    getInto(contract, key, big);
    return big;
  }
  return readBuffer.slice(0, n);
}

/** One storage entry, from prefix iteration. */
export class Entry {
  key: Uint8Array;
  value: Uint8Array;
  constructor(key: Uint8Array, value: Uint8Array) {
    this.key = key;
    this.value = value;
  }
}

/** Up to `limit` entries whose key starts with `prefix`, after `after` (exclusive) if given, in key order. */
export function scan(prefix: Uint8Array, after: Uint8Array | null, limit: i32): Entry[] {
  const out = new Array<Entry>();
  let buf = new Uint8Array(256);
  let cursor = after;
  while (out.length < limit) {
    const ap: usize = cursor ? cursor.dataStart : 0;
    const al: i32 = cursor ? cursor.length : 0;
    let n = env.storage_next(prefix.dataStart, prefix.length, ap, al, buf.dataStart, buf.length);
    if (n < 0) break;
    if (n > buf.length) {
      buf = new Uint8Array(n);
      n = env.storage_next(prefix.dataStart, prefix.length, ap, al, buf.dataStart, buf.length);
    }
    const kl = <i32>load<u32>(buf.dataStart);
    const key = buf.slice(4, 4 + kl);
    const vl = <i32>load<u32>(buf.dataStart + 4 + kl);
    out.push(new Entry(key, buf.slice(8 + kl, 8 + kl + vl)));
    cursor = key;
  }
  return out;
}

/**
 * Storage key of an item in a collection: length-prefixed collection prefix, then the item key.
 * Integers are big-endian so that iteration order is numeric order; strings are their UTF-8 bytes;
 * Bytes32 and Uint8Array their bytes; anything else its codec encoding.
 */
export function itemKey<K>(prefix: Uint8Array, key: K): Uint8Array {
  const p = prefix.length;
  if (isInteger<K>() && !isBoolean<K>()) {
    const n = <i32>sizeof<K>();
    const out = new Uint8Array(1 + p + n);
    out[0] = <u8>p;
    memory.copy(out.dataStart + 1, prefix.dataStart, p);
    for (let i = 0; i < n; i++) unchecked(out[1 + p + i] = <u8>((<u64>key) >> (<u64>((n - 1 - i) * 8))));
    return out;
  } else if (isString<K>()) {
    const s = changetype<string>(key);
    const n = String.UTF8.byteLength(s);
    const out = new Uint8Array(1 + p + n);
    out[0] = <u8>p;
    memory.copy(out.dataStart + 1, prefix.dataStart, p);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, out.dataStart + 1 + p);
    return out;
  } else if (key instanceof Bytes32) {
    const out = new Uint8Array(1 + p + 32);
    out[0] = <u8>p;
    memory.copy(out.dataStart + 1, prefix.dataStart, p);
    memory.copy(out.dataStart + 1 + p, changetype<Bytes32>(key).bytes.dataStart, 32);
    return out;
  } else if (key instanceof Uint8Array) {
    const b = changetype<Uint8Array>(key);
    const out = new Uint8Array(1 + p + b.length);
    out[0] = <u8>p;
    memory.copy(out.dataStart + 1, prefix.dataStart, p);
    memory.copy(out.dataStart + 1 + p, b.dataStart, b.length);
    return out;
  } else {
    const e = new Encoder();
    e.u8(<u8>p);
    e.raw(prefix);
    encodeValue<K>(e, key);
    return e.finish();
  }
}

function prefixBytes(prefix: string): Uint8Array {
  const b = Uint8Array.wrap(String.UTF8.encode(prefix));
  if (b.length == 0 || b.length > 64) fail("BAD_PREFIX", "collection prefixes are 1 to 64 bytes");
  return b;
}

/** A persistent key-value map. Give every collection of a contract its own short prefix. */
export class PersistentMap<K, V> {
  readonly prefix: Uint8Array;
  constructor(prefix: string) {
    this.prefix = prefixBytes(prefix);
  }
  has(key: K): bool {
    return Storage.has(itemKey<K>(this.prefix, key));
  }
  /** The value, or `fallback` when absent. */
  get(key: K, fallback: V): V {
    const raw = Storage.get(itemKey<K>(this.prefix, key));
    return raw ? decode<V>(raw) : fallback;
  }
  /** The value, or null when absent (for class, string and array values). */
  tryGet(key: K): V | null {
    const raw = Storage.get(itemKey<K>(this.prefix, key));
    return raw ? decode<V>(raw) : null;
  }
  /** The value; fails with `code` (default NOT_FOUND) when absent. */
  getSome(key: K, code: string = "NOT_FOUND", message: string = "no such entry"): V {
    const raw = Storage.get(itemKey<K>(this.prefix, key));
    if (!raw) fail(code, message);
    return decode<V>(raw!);
  }
  set(key: K, value: V): void {
    Storage.set(itemKey<K>(this.prefix, key), encode<V>(value));
  }
  /** Stores a value and returns its encoding (to emit it without encoding it again). */
  setEncoded(key: K, value: V): Uint8Array {
    const bytes = encode<V>(value);
    Storage.set(itemKey<K>(this.prefix, key), bytes);
    return bytes;
  }
  delete(key: K): bool {
    return Storage.remove(itemKey<K>(this.prefix, key));
  }
  /** Up to `limit` values in key order, starting after the given key (or from the start). */
  values(limit: i32, after: Uint8Array | null = null): V[] {
    const out = new Array<V>();
    const entries = scan(this.itemPrefix(), after, limit);
    for (let i = 0; i < entries.length; i++) out.push(decode<V>(entries[i].value));
    return out;
  }
  /** Storage keys of up to `limit` entries (for paging with `values(limit, after)`). */
  rawKeys(limit: i32, after: Uint8Array | null = null): Uint8Array[] {
    const out = new Array<Uint8Array>();
    const entries = scan(this.itemPrefix(), after, limit);
    for (let i = 0; i < entries.length; i++) out.push(entries[i].key);
    return out;
  }
  keyOf(key: K): Uint8Array {
    return itemKey<K>(this.prefix, key);
  }
  private itemPrefix(): Uint8Array {
    const p = new Uint8Array(1 + this.prefix.length);
    p[0] = <u8>this.prefix.length;
    p.set(this.prefix, 1);
    return p;
  }
}

/**
 * Read-only view of a PersistentMap that another contract owns (its address and the map's prefix):
 * checking another contract's public records costs a storage read instead of a nested call. The
 * value type must be the owner's record type (keep it in code both contracts import).
 */
export class ForeignMap<K, V> {
  readonly contract: Address;
  readonly prefix: Uint8Array;
  constructor(contract: Address, prefix: string) {
    this.contract = contract;
    this.prefix = prefixBytes(prefix);
  }
  has(key: K): bool {
    return Storage.getAt(this.contract, itemKey<K>(this.prefix, key)) !== null;
  }
  get(key: K, fallback: V): V {
    const raw = Storage.getAt(this.contract, itemKey<K>(this.prefix, key));
    return raw ? decode<V>(raw) : fallback;
  }
  tryGet(key: K): V | null {
    const raw = Storage.getAt(this.contract, itemKey<K>(this.prefix, key));
    return raw ? decode<V>(raw) : null;
  }
}

/** Read-only view of a Singleton that another contract owns. */
export class ForeignSingleton<T> {
  private readonly contract: Address;
  private readonly key: Uint8Array;
  constructor(contract: Address, name: string) {
    this.contract = contract;
    this.key = itemKey<string>(prefixBytes(name), "");
  }
  tryGet(): T | null {
    const raw = Storage.getAt(this.contract, this.key);
    return raw ? decode<T>(raw) : null;
  }
}

/** A persistent list with O(1) push, pop, get and set. */
export class PersistentVector<T> {
  private readonly items: PersistentMap<u32, T>;
  private readonly lengthKey: Uint8Array;
  constructor(prefix: string) {
    this.items = new PersistentMap<u32, T>(prefix);
    this.lengthKey = itemKey<string>(prefixBytes(prefix), "#len");
  }
  get length(): u32 {
    const raw = Storage.get(this.lengthKey);
    return raw ? decode<u32>(raw) : 0;
  }
  private setLength(n: u32): void {
    Storage.set(this.lengthKey, encode<u32>(n));
  }
  push(value: T): u32 {
    const n = this.length;
    this.items.set(n, value);
    this.setLength(n + 1);
    return n;
  }
  get(index: u32): T {
    if (index >= this.length) fail("INDEX_OUT_OF_RANGE", "no item at that index");
    return this.items.getSome(index);
  }
  set(index: u32, value: T): void {
    if (index >= this.length) fail("INDEX_OUT_OF_RANGE", "no item at that index");
    this.items.set(index, value);
  }
  pop(): T {
    const n = this.length;
    if (n == 0) fail("EMPTY", "the list is empty");
    const v = this.items.getSome(n - 1);
    this.items.delete(n - 1);
    this.setLength(n - 1);
    return v;
  }
}

/** One persistent value. */
export class Singleton<T> {
  private readonly key: Uint8Array;
  constructor(name: string) {
    this.key = itemKey<string>(prefixBytes(name), "");
  }
  exists(): bool {
    return Storage.has(this.key);
  }
  get(fallback: T): T {
    const raw = Storage.get(this.key);
    return raw ? decode<T>(raw) : fallback;
  }
  getSome(code: string = "NOT_SET", message: string = "value not set"): T {
    const raw = Storage.get(this.key);
    if (!raw) fail(code, message);
    return decode<T>(raw!);
  }
  set(value: T): void {
    Storage.set(this.key, encode<T>(value));
  }
}
