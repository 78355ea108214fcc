/**
 * The versioned gas cost table. One gas unit is roughly one simple WebAssembly instruction. A change
 * to any figure is a consensus change: it gets a new version, and blocks record which version ran.
 */
export interface CostTable {
  readonly version: number;
  /** Cost of an instruction not listed in `instructions`. */
  readonly instruction: number;
  /** Per-opcode costs (0xFC-prefixed opcodes as 0xFC00 + sub-opcode). */
  readonly instructions: Readonly<Record<number, number>>;
  /** Every call: per page of initial memory, which is restored for each call. */
  callMemoryPerPage: number;
  /** memory.grow: per page of 64 KiB actually added. */
  readonly memoryGrowPerPage: number;
  /** memory.fill/copy/init and table.fill/copy/init/grow: one gas per this many bytes or elements. */
  readonly bulkUnitsPerGas: number;
  readonly host: Readonly<{
    /** Every host call. */
    call: number;
    /** Every byte copied between contract memory and the host (input, output, keys, values, hashes). */
    perByte: number;
    storageRead: number;
    storageWrite: number;
    /** Per byte of key and value written: state growth is what storage really costs. */
    storageWritePerByte: number;
    storageIterate: number;
    emit: number;
    emitPerByte: number;
    hash: number;
    hashPerByte: number;
    ed25519Verify: number;
    /** Cross-contract call set-up, on top of the gas the callee uses. */
    contractCall: number;
  }>;
}

const ZERO_COST_CONTROL = [0x01, 0x02, 0x03, 0x05, 0x0b]; // nop, block, loop, else, end: no machine code of their own

function table(): Record<number, number> {
  const t: Record<number, number> = {};
  for (const op of ZERO_COST_CONTROL) t[op] = 0;
  t[0x10] = 4; // call
  t[0x11] = 6; // call_indirect: signature check + table load
  for (const op of [0x6d, 0x6e, 0x6f, 0x70, 0x7f, 0x80, 0x81, 0x82]) t[op] = 4; // integer div/rem
  for (const op of [0x91, 0x95, 0x9f, 0xa3]) t[op] = 4; // float sqrt/div
  t[0x40] = 2; // memory.grow (pages charged separately)
  return t;
}

export const COST_TABLE_V1: CostTable = Object.freeze({
  version: 1,
  instruction: 1,
  instructions: Object.freeze(table()),
  callMemoryPerPage: 1024,
  memoryGrowPerPage: 8192,
  bulkUnitsPerGas: 16,
  host: Object.freeze({
    call: 40,
    perByte: 1,
    storageRead: 400,
    storageWrite: 1000,
    storageWritePerByte: 20,
    storageIterate: 600,
    emit: 300,
    emitPerByte: 8,
    hash: 200,
    hashPerByte: 4,
    ed25519Verify: 150_000,
    contractCall: 2000,
  }),
});

export const COST_TABLES: ReadonlyMap<number, CostTable> = new Map([[1, COST_TABLE_V1]]);

export function instructionCost(costs: CostTable, op: number): number {
  return costs.instructions[op] ?? costs.instruction;
}
