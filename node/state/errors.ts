/**
 * Typed errors of the authenticated state. Codes are stable: RPC, CLI and the proof SDK surface them
 * unchanged. No Node-only imports: the proof verifier (and so this file) runs in browsers too.
 */
export type StateErrorCode =
  | 'STATE_KEY_INVALID'      // not a Uint8Array, or longer than MAX_KEY_BYTES
  | 'STATE_VALUE_INVALID'    // not a Uint8Array (or null), or longer than MAX_VALUE_BYTES
  | 'STATE_ROOT_INVALID'     // not a 32-byte hash
  | 'STATE_VERSION_INVALID'  // an update's version is not an integer from 0 to 2^53
  | 'STATE_NODE_MISSING'     // a node under the requested root is not in the store (pruned, or never persisted)
  | 'STATE_NODE_CORRUPT'     // a stored node does not decode, or does not hash to the hash it is stored under
  | 'STATE_PROOF_MALFORMED'  // not the canonical encoding (or JSON form) of a proof
  | 'STATE_PROOF_INVALID';   // well-formed, but does not prove anything about (root, key)

export class StateError extends Error {
  readonly code: StateErrorCode;
  constructor(code: StateErrorCode, message: string) {
    super(message);
    this.name = 'StateError';
    this.code = code;
  }
  toJSON(): { code: StateErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}
