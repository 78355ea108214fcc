// The smallest useful contract method: the per-call cost of the VM itself. The static string gives
// it a data segment and so one page of memory, which every call must start from afresh.
const GREETING = "ping";

export function ping(): i32 {
  return GREETING.length;
}
