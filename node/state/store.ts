/**
 * Where tree nodes live. The tree only reads, synchronously (hashing a block's writes must not yield
 * to the event loop once per node); the owner writes what each update returns (`StateUpdate`: its
 * node groups and its root's ref). The node implements NodeStore over LevelDB's `getSync`; tests use
 * MemoryNodeStore. Encodings and refs: nodes.ts.
 */

/** Where a root node is stored: the version that created it and its slot there. */
export interface NodeRef {
  at: number;
  slot: number;
}

export interface NodeStore {
  /** Group `group` of version `version`'s nodes (see nodes.ts), or undefined when there is none. */
  group(version: number, group: number): Uint8Array | undefined;
  /** Where the root node with this hash is stored; undefined for roots of stores written before groups. */
  root(hash: Uint8Array): NodeRef | undefined;
  /** A node of a store written before groups, by hash. */
  byHash(hash: Uint8Array): Uint8Array | undefined;
}

/** What a store keeps of an update: its version's node groups and its root's ref. */
export interface PersistableUpdate {
  /** The root after the update. */
  root: Uint8Array;
  /**
   * Where the root node is stored (a new node of the update, or an older one); null for the empty
   * tree, and for a root of a store written before groups (found by its hash).
   */
  rootRef: NodeRef | null;
  /** The version the new nodes are stored under (the node uses the block's height). */
  version: number;
  /** The new nodes' group records (nodes.ts), group 0 first. */
  groups: readonly Uint8Array[];
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');

/** Nodes in Maps. */
export class MemoryNodeStore implements NodeStore {
  private readonly groups = new Map<string, Uint8Array>();
  private readonly roots = new Map<string, NodeRef>();
  private readonly legacy = new Map<string, Uint8Array>();

  group(version: number, group: number): Uint8Array | undefined {
    return this.groups.get(`${version}/${group}`);
  }

  root(hash: Uint8Array): NodeRef | undefined {
    return this.roots.get(hex(hash));
  }

  byHash(hash: Uint8Array): Uint8Array | undefined {
    return this.legacy.get(hex(hash));
  }

  /** Keeps an update's nodes and root ref (what the node writes in a block's batch). */
  putUpdate(u: PersistableUpdate): void {
    u.groups.forEach((g, i) => this.groups.set(`${u.version}/${i}`, g));
    if (u.rootRef) this.roots.set(hex(u.root), u.rootRef);
  }

  /** Replaces (or with undefined, removes) a group record: for tests of damaged stores. */
  setGroup(version: number, group: number, bytes: Uint8Array | undefined): void {
    if (bytes === undefined) this.groups.delete(`${version}/${group}`);
    else this.groups.set(`${version}/${group}`, bytes);
  }

  /** Every group record as [version, group]. */
  groupKeys(): Array<[number, number]> {
    return [...this.groups.keys()].map((k) => k.split('/').map(Number) as [number, number]);
  }

  /** A node by hash, as stores written before groups kept them. */
  putByHash(hash: Uint8Array, bytes: Uint8Array): void {
    this.legacy.set(hex(hash), bytes);
  }

  /** Group records and nodes by hash kept. */
  get size(): number {
    return this.groups.size + this.legacy.size;
  }
}
