/**
 * Custody's typed errors, shared by the service and the client (no Node imports: the client runs in
 * browsers). The RPC server turns a code into an HTTP status by its ending: *_NOT_FOUND 404,
 * *_TOO_LARGE 413, *_UNSUPPORTED_TYPE 415, *_UNAVAILABLE 503, anything else 400.
 */
export type CustodyErrorCode =
  | 'CUSTODY_TOO_LARGE'          // the file is over the service's size limit (413)
  | 'CUSTODY_UNSUPPORTED_TYPE'   // its Content-Type is not on the allowlist (415)
  | 'CUSTODY_NOT_FOUND'          // nothing is kept at that address (404)
  | 'CUSTODY_BAD_ADDRESS'        // not a custody address or download path (path traversal, wrong length, not lower-case hex)
  | 'CUSTODY_ABORTED'            // the upload ended before its body did (client gone, connection cut)
  | 'CUSTODY_TIMEOUT'            // the upload sent nothing for too long
  | 'CUSTODY_UNAVAILABLE'        // the store cannot take files now (disk full, closed) (503)
  | 'CUSTODY_CORRUPT'            // the stored bytes no longer hash to their address: the download is cut
  | 'CUSTODY_DIGEST_MISMATCH'    // client side: what the service answered or served is not the file's digest
  | 'CUSTODY_BAD_RESPONSE'       // client side: the service's answer is not what the protocol says
  | 'CUSTODY_BAD_CONFIG'         // a bad option, or a store folder that is not one
  | 'CUSTODY_STORE_LOCKED';      // another process has the store open

export class CustodyError extends Error {
  /** A custody code; client side also the server's own (RPC_UNAUTHORIZED, RPC_RATE_LIMITED, ...). */
  readonly code: CustodyErrorCode | (string & {});
  /** Client side: the HTTP status the service answered with, when there was one. */
  readonly status: number | undefined;
  /** Machine-readable details (the limit, the allowed types); sent as the JSON error's `data`. */
  readonly data: Record<string, unknown> | undefined;
  constructor(code: CustodyErrorCode | (string & {}), message: string, options: { status?: number; data?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CustodyError';
    this.code = code;
    this.status = options.status;
    this.data = options.data;
  }
}
