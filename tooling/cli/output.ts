/** JSON output conventions of the CLI. */
import { VmError } from '../../vm/errors.ts';

export class CliError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'CliError';
    this.code = code;
  }
}

/** JSON.stringify that writes bytes as hex and big integers as numbers when exact, strings otherwise. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, k, v) {
    const raw = this[k]; // before toJSON: Buffers would otherwise arrive as {type, data}
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString('hex');
    if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    if (v instanceof VmError) return v.toJSON();
    return v;
  });
}

/** Prints an error as JSON on stderr; returns the exit status (2: usage, 1: anything else). */
export function printError(e: unknown): number {
  // Every typed error of the project (CliError, VmError, TxError, RpcError, ...) has a stable string code.
  const code = (e as { code?: unknown })?.code;
  if (e instanceof Error && typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code)) {
    process.stderr.write(`${toJson({ error: { code, message: e.message } })}\n`);
    return e instanceof CliError && e.code === 'CLI_USAGE' ? 2 : 1;
  }
  process.stderr.write(`${toJson({ error: { code: 'INTERNAL', message: (e as Error)?.stack ?? String(e) } })}\n`);
  return 1;
}
