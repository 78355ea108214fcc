/** The chain's authenticated state: the tree (Node side) and its proofs (also browser-safe on their own in proof.ts). */
export { StateError, type StateErrorCode } from './errors.ts';
export { StateTree, type StateTreeOptions, type StateUpdate, type StateWrite, type UpdateOptions } from './tree.ts';
export { MemoryNodeStore, type NodeRef, type NodeStore, type PersistableUpdate } from './store.ts';
export { encodeNode, type TreeNode } from './nodes.ts';
export {
  EMPTY_ROOT_HEX, HASH_BYTES, MAX_KEY_BYTES, MAX_VALUE_BYTES, MAX_DEPTH, PROOF_VERSION,
  checkProof, decodeProof, emptyRoot, encodeProof, fromHex, internalHash, keyPathOf, leafHash, pathBit,
  proofFromJSON, proofToJSON, toHex, verifyProof,
  type ProofEnd, type StateProof, type StateProofJSON,
} from './proof.ts';
