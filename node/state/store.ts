/**
 * Where tree nodes live. The tree only reads, synchronously (hashing a block's writes must not yield
 * to the event loop once per node); the owner writes the nodes each update returns.
 * The node implements NodeStore over LevelDB's `getSync` with a cache; tests use MemoryNodeStore.
 */

/** Nodes by hash. Content-addressed: the bytes under a hash never change, so writing again is harmless. */
export interface NodeStore {
  /** The encoded node stored under `hash`, or undefined when there is none. */
  get(hash: Uint8Array): Uint8Array | undefined;
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** Nodes in a Map keyed by hex hash (the form updates hand them out in). */
export class MemoryNodeStore implements NodeStore {
  private readonly nodes = new Map<string, Uint8Array>();

  get(hash: Uint8Array): Uint8Array | undefined {
    return this.nodes.get(hex(hash));
  }

  put(hash: Uint8Array, bytes: Uint8Array): void {
    this.nodes.set(hex(hash), bytes);
  }

  /** An update's nodes: hex hash to encoding. */
  putAll(nodes: Iterable<[string, Uint8Array]>): void {
    for (const [h, bytes] of nodes) this.nodes.set(h, bytes);
  }

  delete(hash: Uint8Array): boolean {
    return this.nodes.delete(hex(hash));
  }

  /** Every stored hash, as hex. */
  hashes(): IterableIterator<string> {
    return this.nodes.keys();
  }

  get size(): number {
    return this.nodes.size;
  }
}
