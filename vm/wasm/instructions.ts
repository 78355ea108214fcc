/**
 * Decoding of single instructions: opcode, immediates and byte extent, so that a rewriter can copy
 * instructions verbatim and insert code between them. Proposals the VM does not implement are refused
 * with VM_MODULE_UNSUPPORTED as soon as their opcode is seen.
 */
import { VmError } from '../errors.ts';
import type { Reader } from './bytes.ts';

/** 0xFC-prefixed instructions are numbered 0xFC00 + sub-opcode. */
export const OP = {
  unreachable: 0x00, nop: 0x01, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b,
  br: 0x0c, br_if: 0x0d, br_table: 0x0e, return: 0x0f, call: 0x10, call_indirect: 0x11,
  drop: 0x1a, select: 0x1b, select_t: 0x1c,
  local_get: 0x20, local_set: 0x21, local_tee: 0x22, global_get: 0x23, global_set: 0x24,
  table_get: 0x25, table_set: 0x26, memory_size: 0x3f, memory_grow: 0x40,
  i32_const: 0x41, i64_const: 0x42, f32_const: 0x43, f64_const: 0x44,
  ref_null: 0xd0, ref_is_null: 0xd1, ref_func: 0xd2,
  memory_init: 0xfc08, data_drop: 0xfc09, memory_copy: 0xfc0a, memory_fill: 0xfc0b,
  table_init: 0xfc0c, elem_drop: 0xfc0d, table_copy: 0xfc0e, table_grow: 0xfc0f, table_size: 0xfc10, table_fill: 0xfc11,
} as const;

export interface Instr {
  op: number;
  /** Byte offsets of the whole instruction in the code array. */
  start: number;
  end: number;
  /** First immediate: label, function, type, local, global, table, data or element index; block type. */
  a: number;
  /** Second immediate: the table of call_indirect, the source of table.copy, the table of table.init. */
  b: number;
  /** br_table targets, the default last. */
  targets: number[] | undefined;
}

export function newInstr(): Instr {
  return { op: 0, start: 0, end: 0, a: 0, b: 0, targets: undefined };
}

function unsupported(what: string): never {
  throw new VmError('VM_MODULE_UNSUPPORTED', `the VM does not support ${what}`);
}

/**
 * Block types the VM supports: empty (-64), a number or reference value type, or a type index.
 * Typed function references (0x63/0x64 + heap type) would make the next byte look like an opcode:
 * refusing them keeps the decoder's view of the code identical to the engine's.
 */
const BLOCK_VALUE_TYPES = new Set([-64, -1, -2, -3, -4, -16, -17]);

export function checkBlockType(bt: number): void {
  if (bt >= 0 || BLOCK_VALUE_TYPES.has(bt)) return;
  if (bt === -5) unsupported('SIMD (v128 block types)');
  unsupported('typed function references or GC types');
}

/** Heap type of ref.null: only funcref (0x70) and externref (0x6F), read as the s33 they are. */
export function readNullHeapType(r: Reader): number {
  const ht = r.s33();
  if (ht !== -16 && ht !== -17) unsupported('typed function references or GC heap types');
  return ht & 0x7f;
}

function memarg(r: Reader): void {
  const align = r.u32();
  if (align & 0x40) unsupported('multiple memories');
  r.u32();
}

function zeroByte(r: Reader): void {
  if (r.u8() !== 0) unsupported('multiple memories');
}

/** Decodes one instruction at r.pos into `ins`. */
export function readInstr(r: Reader, ins: Instr): void {
  ins.start = r.pos;
  ins.targets = undefined;
  const op = r.u8();
  ins.op = op;
  if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1) {
    // no immediates
  } else if (op >= 0x02 && op <= 0x04) {
    ins.a = r.s33();
    checkBlockType(ins.a);
  } else if (op === 0x0c || op === 0x0d || op === 0x10 || (op >= 0x20 && op <= 0x26) || op === 0xd2) {
    ins.a = r.u32();
  } else if (op === 0x0e) {
    const n = r.u32();
    if (n > r.end - r.pos) r.fail('br_table longer than the code');
    const t: number[] = [];
    for (let i = 0; i <= n; i++) t.push(r.u32());
    ins.targets = t;
  } else if (op === 0x11) {
    ins.a = r.u32();
    ins.b = r.u32();
  } else if (op === 0x1c) {
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const t = r.u8();
      if (t === 0x7b) unsupported('SIMD');
      if (t !== 0x7f && t !== 0x7e && t !== 0x7d && t !== 0x7c && t !== 0x70 && t !== 0x6f) unsupported('typed function references or GC types');
    }
  } else if (op >= 0x28 && op <= 0x3e) {
    memarg(r);
  } else if (op === 0x3f || op === 0x40) {
    zeroByte(r);
  } else if (op === 0x41) {
    r.skipSigned(5);
  } else if (op === 0x42) {
    r.skipSigned(10);
  } else if (op === 0x43) {
    r.take(4);
  } else if (op === 0x44) {
    r.take(8);
  } else if (op >= 0x45 && op <= 0xc4) {
    // numeric, no immediates
  } else if (op === 0xd0) {
    ins.a = readNullHeapType(r);
  } else if (op === 0xfc) {
    const sub = r.u32();
    ins.op = 0xfc00 + sub;
    if (sub <= 7) {
      // saturating truncation
    } else if (sub === 8) { ins.a = r.u32(); zeroByte(r); }
    else if (sub === 9 || sub === 13) { ins.a = r.u32(); }
    else if (sub === 10) { zeroByte(r); zeroByte(r); }
    else if (sub === 11) { zeroByte(r); }
    else if (sub === 12) { ins.a = r.u32(); ins.b = r.u32(); }
    else if (sub === 14) { ins.a = r.u32(); ins.b = r.u32(); }
    else if (sub >= 15 && sub <= 17) { ins.a = r.u32(); }
    else if (sub >= 18 && sub <= 19) unsupported('memory64 or other 0xFC extensions');
    else r.fail(`unknown opcode 0xfc ${sub}`);
  } else if (op === 0xfd) {
    unsupported('SIMD (0xFD instructions)');
  } else if (op === 0xfe) {
    unsupported('threads (atomic instructions)');
  } else if (op === 0xfb) {
    unsupported('GC instructions');
  } else if ((op >= 0x06 && op <= 0x0a) || op === 0x18 || op === 0x19 || op === 0x1f) {
    unsupported('exception handling');
  } else if (op === 0x12 || op === 0x13 || op === 0x15) {
    unsupported('tail calls');
  } else if (op === 0x14 || (op >= 0xd3 && op <= 0xd6)) {
    unsupported('typed function references');
  } else {
    r.fail(`unknown opcode 0x${op.toString(16)}`);
  }
  ins.end = r.pos;
}

/** Float instructions whose result may be a NaN with an engine-chosen payload or sign. */
export function producesArithmeticNaN(op: number): 'f32' | 'f64' | undefined {
  if ((op >= 0x8d && op <= 0x91) || (op >= 0x92 && op <= 0x97) || op === 0xb6) return 'f32'; // ceil..sqrt, add..max, demote
  if ((op >= 0x9b && op <= 0x9f) || (op >= 0xa0 && op <= 0xa5) || op === 0xbb) return 'f64'; // ceil..sqrt, add..max, promote
  return undefined;
}

/**
 * Operand-stack effect [pops, pushes] of instructions with a fixed signature. Calls, control
 * instructions and select are handled by the caller, which knows the module's types.
 */
export function stackEffect(op: number): [number, number] {
  if (op >= 0x45 && op <= 0xc4) {
    const unary = op === 0x45 || op === 0x50 || (op >= 0x67 && op <= 0x69) || (op >= 0x79 && op <= 0x7b) ||
      (op >= 0x8b && op <= 0x91) || (op >= 0x99 && op <= 0x9f) || op >= 0xa7;
    return unary ? [1, 1] : [2, 1];
  }
  if (op >= 0x28 && op <= 0x35) return [1, 1];
  if (op >= 0x36 && op <= 0x3e) return [2, 0];
  switch (op) {
    case 0x00: case 0x01: return [0, 0];
    case 0x1a: return [1, 0];
    case 0x20: case 0x23: case 0x3f: case 0x41: case 0x42: case 0x43: case 0x44: case 0xd0: case 0xd2: return [0, 1];
    case 0x21: case 0x24: return [1, 0];
    case 0x22: case 0x25: case 0x40: case 0xd1: return [1, 1];
    case 0x26: return [2, 0];
    case OP.table_grow: return [2, 1];
    case OP.table_size: return [0, 1];
    case OP.data_drop: case OP.elem_drop: return [0, 0];
    case OP.memory_init: case OP.memory_copy: case OP.memory_fill: case OP.table_init: case OP.table_copy: case OP.table_fill: return [3, 0];
  }
  if (op >= 0xfc00 && op <= 0xfc07) return [1, 1];
  throw new VmError('VM_MODULE_MALFORMED', `no stack effect for opcode 0x${op.toString(16)}`);
}
