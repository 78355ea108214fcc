import * as env from "./env";
import { encode } from "./codec";
import { fail } from "./errors";

function topicBytes(topics: string[]): Uint8Array {
  let total = 0;
  const parts = new Array<ArrayBuffer>();
  for (let i = 0; i < topics.length; i++) {
    const b = String.UTF8.encode(topics[i]);
    if (b.byteLength > 64) fail("BAD_TOPIC", "event topics are at most 64 bytes");
    parts.push(b);
    total += 1 + b.byteLength;
  }
  const out = new Uint8Array(total);
  let p = 0;
  for (let i = 0; i < parts.length; i++) {
    out[p] = <u8>parts[i].byteLength;
    memory.copy(out.dataStart + p + 1, changetype<usize>(parts[i]), parts[i].byteLength);
    p += 1 + parts[i].byteLength;
  }
  return out;
}

/**
 * Emits an event: topic 0 is its name, up to three more topics index it (an account, a key, ...);
 * the data is the codec encoding of `value`. Subscribers filter on contract and topics.
 */
export function emit<T>(name: string, value: T, topics: string[] = []): void {
  emitEncoded<T>(name, encode<T>(value), topics);
}

/**
 * Like `emit`, with data already encoded as a T (a value just stored need not be encoded twice). T
 * names the data's type for the ABI, as with `emit`.
 */
export function emitEncoded<T>(name: string, data: Uint8Array, topics: string[] = []): void {
  const all = [name];
  for (let i = 0; i < topics.length; i++) all.push(topics[i]);
  const t = topicBytes(all);
  env.emit(t.dataStart, t.length, data.dataStart, data.length);
}
