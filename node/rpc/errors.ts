/**
 * Typed RPC errors, shared by the server and the client (no Node imports: the client runs in browsers).
 * `code` is the stable string clients branch on; `rpcCode` is the JSON-RPC integer on the wire. Every
 * error response carries the string code as `error.data.code`.
 */
export type RpcErrorCode =
  | 'RPC_PARSE_ERROR'            // the body or message is not JSON
  | 'RPC_INVALID_REQUEST'        // JSON, but not a JSON-RPC 2.0 request (or an empty batch)
  | 'RPC_BATCH_TOO_LARGE'        // more batch entries than the server accepts
  | 'RPC_UNSUPPORTED_MEDIA_TYPE' // HTTP Content-Type is not application/json (415)
  | 'RPC_HTTP_METHOD_NOT_ALLOWED' // HTTP verb other than POST (405)
  | 'RPC_NOT_FOUND'              // HTTP path other than / (or /health, /ws) (404)
  | 'RPC_METHOD_NOT_FOUND'
  | 'RPC_WS_ONLY'                // subscribe/unsubscribe over HTTP
  | 'RPC_INVALID_PARAMS'
  | 'RPC_UNKNOWN_TOPIC'
  | 'RPC_INTERNAL_ERROR'         // an unexpected exception; the message is generic on purpose
  | 'RPC_TIMEOUT'                // the handler (or, client side, the server) did not answer in time
  | 'RPC_REQUEST_TOO_LARGE'      // body over the size limit (413); over WebSocket, close code 1009
  | 'RPC_SUBSCRIPTION_LIMIT'
  | 'RPC_SHUTTING_DOWN'
  | 'RPC_RATE_LIMITED'           // per-remote token bucket empty (429 when nothing else in the request ran)
  | 'RPC_TOO_MANY_CONNECTIONS'   // connection cap reached (503)
  | 'RPC_FORBIDDEN_ORIGIN'       // WebSocket upgrade from a browser origin not allowed (403)
  | 'RPC_UNAUTHORIZED'           // API keys are required and the request has no known one (401)
  | 'RPC_TRANSPORT_ERROR'        // client side only: network failure or a response that is not JSON-RPC
  | 'RPC_CLIENT_CLOSED';         // client side only: the WebSocket closed before the answer

/** JSON-RPC integer for each transport code. Chain codes (e.g. 'TX_EXPIRED') default to -32000. */
export const RPC_CODES: Readonly<Record<RpcErrorCode, number>> = {
  RPC_PARSE_ERROR: -32700,
  RPC_INVALID_REQUEST: -32600,
  RPC_BATCH_TOO_LARGE: -32600,
  RPC_UNSUPPORTED_MEDIA_TYPE: -32600,
  RPC_HTTP_METHOD_NOT_ALLOWED: -32600,
  RPC_NOT_FOUND: -32600,
  RPC_METHOD_NOT_FOUND: -32601,
  RPC_WS_ONLY: -32601,
  RPC_INVALID_PARAMS: -32602,
  RPC_UNKNOWN_TOPIC: -32602,
  RPC_INTERNAL_ERROR: -32603,
  RPC_TIMEOUT: -32001,
  RPC_REQUEST_TOO_LARGE: -32002,
  RPC_SUBSCRIPTION_LIMIT: -32003,
  RPC_SHUTTING_DOWN: -32004,
  RPC_RATE_LIMITED: -32005,
  RPC_TOO_MANY_CONNECTIONS: -32006,
  RPC_FORBIDDEN_ORIGIN: -32007,
  RPC_UNAUTHORIZED: -32008,
  RPC_TRANSPORT_ERROR: -32099,
  RPC_CLIENT_CLOSED: -32099,
};

/** rpcCode of a typed error that names no JSON-RPC integer of its own (a chain error such as 'TX_EXPIRED'). */
export const RPC_APPLICATION_ERROR = -32000;

export interface RpcErrorOptions {
  rpcCode?: number;
  /** Extra machine-readable fields; sent as `error.data` next to `code`. */
  data?: Record<string, unknown>;
}

export class RpcError extends Error {
  /** Stable string code: an RpcErrorCode or the chain's own (e.g. 'TX_EXPIRED'). */
  readonly code: string;
  readonly rpcCode: number;
  readonly data: Record<string, unknown> | undefined;
  constructor(code: string, message: string, options: RpcErrorOptions = {}) {
    super(message);
    this.name = 'RpcError';
    this.code = code;
    this.rpcCode = options.rpcCode ?? rpcCodeOf(code);
    this.data = options.data;
  }

  static invalidParams(message: string, data?: Record<string, unknown>): RpcError {
    return new RpcError('RPC_INVALID_PARAMS', message, { data });
  }

  /** The JSON-RPC error object: `{ code: rpcCode, message, data: { ...data, code } }`. */
  toJSON(): RpcErrorObject {
    return { code: this.rpcCode, message: this.message, data: { ...this.data, code: this.code } };
  }

  /** Rebuilds an error received on the wire (client side). */
  static fromWire(error: unknown): RpcError {
    if (typeof error !== 'object' || error === null) return new RpcError('RPC_TRANSPORT_ERROR', 'malformed error object');
    const e = error as { code?: unknown; message?: unknown; data?: unknown };
    const rpcCode = typeof e.code === 'number' ? e.code : RPC_CODES.RPC_TRANSPORT_ERROR;
    const data = typeof e.data === 'object' && e.data !== null && !Array.isArray(e.data) ? { ...(e.data as Record<string, unknown>) } : undefined;
    const code = typeof data?.code === 'string' ? data.code : codeOfRpcCode(rpcCode);
    if (data) delete data.code;
    const message = typeof e.message === 'string' ? e.message : code;
    return new RpcError(code, message, { rpcCode, data: data && Object.keys(data).length > 0 ? data : undefined });
  }
}

export interface RpcErrorObject {
  code: number;
  message: string;
  data: { code: string; [field: string]: unknown };
}

function rpcCodeOf(code: string): number {
  return Object.hasOwn(RPC_CODES, code) ? RPC_CODES[code as RpcErrorCode] : RPC_APPLICATION_ERROR;
}

/** For servers that send no `data.code`: the closest string code of a standard JSON-RPC integer. */
function codeOfRpcCode(rpcCode: number): string {
  switch (rpcCode) {
    case -32700: return 'RPC_PARSE_ERROR';
    case -32600: return 'RPC_INVALID_REQUEST';
    case -32601: return 'RPC_METHOD_NOT_FOUND';
    case -32602: return 'RPC_INVALID_PARAMS';
    case -32603: return 'RPC_INTERNAL_ERROR';
    default: return 'RPC_APPLICATION_ERROR';
  }
}

/**
 * Turns whatever a handler threw into a wire error. Errors with a stable string code (RpcError, VmError,
 * chain errors) keep their code and message; anything else, and Node's own system errors (`ERR_*`,
 * errno codes, which may carry paths), becomes a generic internal error: `typed` says which happened so
 * the server can log the original.
 */
export function toRpcError(err: unknown): { error: RpcError; typed: boolean } {
  if (err instanceof RpcError) return { error: err, typed: true };
  if (err instanceof Error && isStableCode((err as { code?: unknown }).code) && !isSystemError(err)) {
    const code = (err as unknown as { code: string }).code;
    const own = (err as { rpcCode?: unknown }).rpcCode;
    const rpcCode = Number.isInteger(own) ? (own as number) : rpcCodeOf(code);
    return { error: new RpcError(code, err.message, { rpcCode, data: extraFields(err) }), typed: true };
  }
  return { error: new RpcError('RPC_INTERNAL_ERROR', 'Internal error'), typed: false };
}

function isStableCode(code: unknown): code is string {
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code);
}

function isSystemError(err: Error): boolean {
  const e = err as { code?: string; errno?: unknown; syscall?: unknown };
  return e.code!.startsWith('ERR_') || e.errno !== undefined || e.syscall !== undefined;
}

/** An error's own wire form (`toJSON()`, e.g. VmError's revertCode) and `data`, minus what the envelope already carries. */
function extraFields(err: Error): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  const toJSON = (err as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const json = toJSON.call(err);
    if (typeof json === 'object' && json !== null) Object.assign(out, json);
  }
  const data = (err as { data?: unknown }).data;
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) Object.assign(out, data);
  delete out.code;
  delete out.message;
  delete out.name;
  delete out.stack;
  return Object.keys(out).length > 0 ? out : undefined;
}
