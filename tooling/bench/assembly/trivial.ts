// The smallest useful contract method: the per-call cost of the VM itself.
export function ping(): i32 {
  return 1;
}
