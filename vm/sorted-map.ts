/**
 * The ordered map the storage journal and the in-memory state use: sorted-btree's B+ tree, keyed by
 * byte strings (see state.ts). It ships as CommonJS with `exports.default`, which Node's ESM loader
 * exposes as a property of the default import.
 */
import btreeModule from 'sorted-btree';

const BTree = btreeModule.default;

export type SortedMap<V> = InstanceType<typeof BTree<string, V>>;

export function sortedMap<V>(): SortedMap<V> {
  return new BTree<string, V>();
}
