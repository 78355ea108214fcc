/**
 * Typed errors of proof bundles. Codes are stable (the CLI, the browser page and partners branch on
 * them); `path` points at the part of the bundle that failed, e.g. `validatorSets.changes[1].commit`.
 * Browser-safe.
 */
export type ProofErrorCode =
  | 'PROOF_MALFORMED'        // not a bundle: not JSON, a field missing, extra or of the wrong type
  | 'PROOF_VERSION'          // a format version this verifier does not know
  | 'PROOF_NOT_CANONICAL'    // the text is not the bundle's one canonical serialisation
  | 'PROOF_CHAIN_ID'         // the bundle or a header is for another chain than the trusted one
  | 'PROOF_GENESIS'          // the bundle's genesis validator set is not the trusted one
  | 'PROOF_VALIDATOR_SETS'   // the chain of validator-set changes from genesis does not hold
  | 'PROOF_CERTIFICATE'      // the anchoring block's commit certificate does not hold
  | 'PROOF_RECORD'           // a record's contract or storage key is not the one its kind and params name
  | 'PROOF_STATE'            // a state proof does not lead to the anchoring block's state root
  | 'PROOF_VALUE'            // a stored value does not decode as its kind, or the bundle's decoded form differs
  | 'PROOF_RESERVE'          // a custodian holds less than the total of its holdings commitment
  | 'PROOF_DIGEST_MISMATCH'  // a file's sha256 is not the record's digest
  | 'PROOF_HOLDING';         // a holder's inclusion proof does not lead to the committed root and total

export class ProofError extends Error {
  readonly code: ProofErrorCode;
  /** Where in the bundle (or holding proof) the failure is; '' for the whole. */
  readonly path: string;
  constructor(code: ProofErrorCode, message: string, path = '') {
    super(path ? `${path}: ${message}` : message);
    this.name = 'ProofError';
    this.code = code;
    this.path = path;
  }
  toJSON(): { code: ProofErrorCode; message: string; path: string } {
    return { code: this.code, message: this.message, path: this.path };
  }
}
