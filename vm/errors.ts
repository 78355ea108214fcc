/**
 * Typed VM errors. `code` is stable: the CLI, RPC and receipts surface it unchanged.
 * Module errors arise before a contract ever runs; execution errors are deterministic outcomes of a call.
 */
export type VmErrorCode =
  // module validation and instrumentation
  | 'VM_MODULE_MALFORMED'        // not a decodable WebAssembly binary
  | 'VM_MODULE_INVALID'          // decodes, but the engine rejects it (type errors etc.)
  | 'VM_MODULE_UNSUPPORTED'      // uses a proposal the VM does not implement (SIMD, threads, exceptions, ...)
  | 'VM_MODULE_FORBIDDEN_IMPORT' // imports something outside the host API, or with the wrong signature
  | 'VM_MODULE_FORBIDDEN'        // breaks a determinism rule (start function, table mutation, ...)
  | 'VM_MODULE_LIMIT'            // code, memory, table, locals or functions above the configured limits
  | 'VM_MODULE_RESERVED_NAME'    // exports a name the instrumentation reserves (__brop_*)
  | 'VM_MODULE_INIT_FAILED'      // its _initialize export trapped, ran out of gas or misused the host
  // call set-up
  | 'VM_NO_SUCH_EXPORT'
  | 'VM_BAD_EXPORT_SIGNATURE'
  | 'VM_NO_SUCH_CONTRACT'
  | 'VM_BAD_REQUEST'
  // execution outcomes
  | 'VM_OUT_OF_GAS'
  | 'VM_STACK_OVERFLOW'
  | 'VM_CALL_DEPTH'
  | 'VM_TRAP'
  | 'VM_ABORT'                   // AssemblyScript abort(): assertion or runtime failure inside the contract
  | 'VM_REVERT'                  // the contract reverted with its own error code (see revertCode)
  | 'VM_HOST_BAD_ARGUMENT'       // a host call got a pointer outside memory or a malformed argument
  | 'VM_HOST_LIMIT';             // a host call exceeded a size limit (key, value, event, output)

export class VmError extends Error {
  readonly code: VmErrorCode;
  /** For VM_REVERT: the contract's own stable error code. */
  readonly revertCode: string | undefined;
  constructor(code: VmErrorCode, message: string, revertCode?: string) {
    super(message);
    this.name = 'VmError';
    this.code = code;
    this.revertCode = revertCode;
  }
  toJSON(): { code: VmErrorCode; message: string; revertCode?: string } {
    return this.revertCode === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, revertCode: this.revertCode };
  }
}

/**
 * What may be known of a failed call wherever consensus depends on it (a nested call's caller, a
 * receipt): the error code, plus the contract's own words for a revert or an abort. Other messages may
 * quote the engine, whose wording can differ between Node versions.
 */
export function deterministicErrorText(error: VmError | null): string {
  if (!error) return 'VM_TRAP';
  if (error.code === 'VM_REVERT') return `${error.revertCode}: ${error.message}`;
  if (error.code === 'VM_ABORT') return `VM_ABORT: ${error.message}`;
  return error.code;
}
