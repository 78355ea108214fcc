import * as env from "./env";

/**
 * Stops the call with a stable error code (UPPER_SNAKE_CASE by convention) and a message for people.
 * The VM reports it as VM_REVERT with `revertCode` = code; nothing the call did takes effect.
 */
export function fail(code: string, message: string): void {
  const c = String.UTF8.encode(code);
  const m = String.UTF8.encode(message);
  env.revert(changetype<usize>(c), c.byteLength, changetype<usize>(m), m.byteLength);
  unreachable();
}

/** fail(code, message) unless the condition holds. */
export function ensure(condition: bool, code: string, message: string): void {
  if (!condition) fail(code, message);
}
