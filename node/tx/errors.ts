/**
 * Why a transaction is refused. Codes are stable: RPC (`error.data.code`), CLI and SDK surface them
 * unchanged, so clients branch on them.
 */
export type TxErrorCode =
  | 'TX_MALFORMED'            // not the canonical encoding of a well-formed transaction
  | 'TX_TOO_LARGE'
  | 'TX_WRONG_CHAIN'          // signed for another chain id
  | 'TX_UNSUPPORTED_SCHEME'   // a signature scheme this node does not run
  | 'TX_BAD_SIGNATURE'
  | 'TX_UNAUTHORISED_KEY'     // the identity contract does not list the key for the sender (or the account is frozen)
  | 'TX_EXPIRED'              // validUntilBlock is not above the current height
  | 'TX_VALIDITY_TOO_LONG'    // validUntilBlock beyond height + the validity window
  | 'TX_DUPLICATE'            // already committed within the window, or already in the pool
  | 'TX_INSUFFICIENT_QUOTA'   // the sender cannot pay the transaction's quota points (SPEC Q3)
  | 'TX_NO_SUCH_CONTRACT'
  | 'BUSY'                    // the pool is full: retry later
  | 'NODE_BEHIND';            // the node is catching up and cannot judge validity yet

export class TxError extends Error {
  readonly code: TxErrorCode;
  constructor(code: TxErrorCode, message: string) {
    super(message);
    this.name = 'TxError';
    this.code = code;
  }
}
