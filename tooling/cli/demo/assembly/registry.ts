// A minimal digest registry written against the raw host API: what `brop start` runs until the chain
// node exists. Input of `register`: 32-byte digest. Output of `lookup`: the registering caller.
@external("brop", "input_len") declare function input_len(): i32;
@external("brop", "input_read") declare function input_read(ptr: usize): void;
@external("brop", "output") declare function output(ptr: usize, len: i32): void;
@external("brop", "caller") declare function caller(ptr: usize): void;
@external("brop", "storage_get") declare function storage_get(kp: usize, kl: i32, vp: usize, vcap: i32): i32;
@external("brop", "storage_set") declare function storage_set(kp: usize, kl: i32, vp: usize, vl: i32): void;
@external("brop", "emit") declare function emit(tp: usize, tl: i32, dp: usize, dl: i32): void;
@external("brop", "revert") declare function revert(cp: usize, cl: i32, mp: usize, ml: i32): void;

function fail(code: string, message: string): void {
  const c = String.UTF8.encode(code), m = String.UTF8.encode(message);
  revert(changetype<usize>(c), c.byteLength, changetype<usize>(m), m.byteLength);
}

function digest(): Uint8Array {
  if (input_len() != 32) fail("BAD_DIGEST", "a digest is 32 bytes");
  const d = new Uint8Array(32);
  input_read(d.dataStart);
  return d;
}

export function register(): void {
  const d = digest();
  const who = new Uint8Array(32);
  if (storage_get(d.dataStart, 32, who.dataStart, 32) >= 0) fail("ALREADY_REGISTERED", "this digest is already registered");
  caller(who.dataStart);
  storage_set(d.dataStart, 32, who.dataStart, 32);
  const topic = new Uint8Array(1 + 10);
  topic[0] = 10;
  topic.set(Uint8Array.wrap(String.UTF8.encode("registered")), 1);
  emit(topic.dataStart, topic.length, d.dataStart, 32);
}

export function lookup(): void {
  const d = digest();
  const who = new Uint8Array(32);
  if (storage_get(d.dataStart, 32, who.dataStart, 32) < 0) fail("NOT_FOUND", "no such digest");
  output(who.dataStart, 32);
}
