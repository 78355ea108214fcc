/**
 * Bytes carved from Node's Buffer pool (shared 8 KiB slabs), as plain Uint8Arrays (`slice` copies,
 * unlike a Buffer's). A typed array with a backing store of its own costs ~1-2 µs here to allocate and
 * to collect (each store is tracked by the GC); one from the pool ~0.15. Only for bytes that live
 * briefly (a key handed to LevelDB, a call's output, a block's receipt encodings until it is stored):
 * a view keeps its whole slab alive, so a pending transaction or a cached receipt does not belong
 * here. Use `.byteOffset` with `.buffer`: the slab is shared.
 */
export function pooledBytes(n: number): Uint8Array {
  const b = Buffer.allocUnsafe(n); // not zero-filled: callers write every byte
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** A copy of `bytes` in pooled memory (see pooledBytes). */
export function pooledCopy(bytes: Uint8Array): Uint8Array {
  const out = pooledBytes(bytes.length);
  out.set(bytes);
  return out;
}
