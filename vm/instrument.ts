/**
 * Bytecode instrumentation: the module the VM actually runs.
 *
 * - Gas: an i64 counter, decremented in WebAssembly at the start of every basic block (function
 *   entry, loop head, if/else arms, after every `end`) by the static cost of the instructions up to
 *   the next block boundary; a negative counter traps. No JS call per block. Inside a function the
 *   counter is a local (a register); an i64 global hands it between WebAssembly functions and an
 *   f64 copy (exact for integers below 2^53) is what host functions charge, as plain JS numbers.
 *   A trap other than out-of-gas therefore does not publish the exact counter: the VM charges a
 *   trapping call its whole gas limit, as the EVM does for an invalid instruction.
 *   memory.grow and the bulk memory/table instructions are charged by their length at run time.
 * - Stack: an i32 global tracks the summed frame size (params + locals + maximum operand height +
 *   overhead, in 8-byte slots) of the live WebAssembly frames; a call that would pass the limit
 *   traps. The engine's own, machine-dependent stack limit is never what stops a contract.
 * - NaNs: every float instruction that may produce an arithmetic NaN is followed by a
 *   canonicalisation to the one canonical NaN, so results are bit-identical on every machine.
 * - memory.grow fails (returns -1) beyond the configured page limit.
 * - `__brop_save` copies every mutable global into a shadow global and `__brop_reset` copies them
 *   back (and zeroes the stack counter): the VM saves once after initialisation and resets before
 *   every reuse of an instance.
 */
import { VmError } from './errors.ts';
import { type CostTable, instructionCost } from './costs.ts';
import { Reader, Writer } from './wasm/bytes.ts';
import { OP, type Instr, newInstr, producesArithmeticNaN, readInstr, stackEffect } from './wasm/instructions.ts';
import { type FuncType, type WasmModule, I32, I64, F32, F64, encodeModule, funcTypeOf, importedCount } from './wasm/module.ts';

export const EXPORT_GAS = '__brop_gas';
export const EXPORT_HOST_GAS = '__brop_host_gas';
export const EXPORT_STACK = '__brop_stack';
export const EXPORT_RESET = '__brop_reset';
export const EXPORT_SAVE = '__brop_save';
export const EXPORT_MEMORY = '__brop_memory';
export const RESERVED_PREFIX = '__brop_';

/** Slots every frame costs on top of its params, locals and operand stack (return address, frame pointer, instance). */
export const FRAME_OVERHEAD_SLOTS = 8;
/** Operand-stack slots the instrumentation itself may push on top of the function's own maximum. */
const INSTRUMENTATION_SLOTS = 4;

export interface InstrumentOptions {
  /** Initial value of the gas counter. The VM overwrites it before every call. */
  gasLimit: number;
  /** Maximum summed frame size, in 8-byte slots. */
  stackLimit: number;
  /** memory.grow returns -1 beyond this many pages. */
  maxMemoryPages: number;
  costs: CostTable;
}


export interface InstrumentedModule {
  bytes: Uint8Array;
  /** Frame cost in slots of each defined function (for diagnostics and tests). */
  frameCosts: number[];
}

const CANONICAL_NAN_F32 = new Uint8Array([0x00, 0x00, 0xc0, 0x7f]);
const CANONICAL_NAN_F64 = new Uint8Array([0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);

function typeIndex(m: WasmModule, params: number[], results: number[]): number {
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const i = m.types.findIndex((t) => same(t.params, params) && same(t.results, results));
  if (i >= 0) return i;
  m.types.push({ params, results });
  return m.types.length - 1;
}

function blockSignature(m: WasmModule, bt: number): [number, number] {
  if (bt === -64) return [0, 0];
  if (bt < 0) return [0, 1];
  const t = m.types[bt];
  if (!t) throw new VmError('VM_MODULE_MALFORMED', `block type ${bt} out of range`);
  return [t.params.length, t.results.length];
}

interface Frame { base: number; params: number; results: number }

/**
 * The counter is tested only where control can come back: function entries and loop heads (every
 * cycle passes one). Forward-only code in between just subtracts, so it may overrun by at most one
 * function's straight-line code before the next test, a host call (which refuses a negative counter)
 * or the return to the VM (which treats a negative counter as out of gas).
 */
interface Charge { amount: number; test: boolean }

interface Analysis {
  instrs: Instr[];
  /** Gas to charge before instruction i, and whether to test the counter there. */
  charges: Map<number, Charge>;
  maxHeight: number;
  needsI32Scratch: boolean;
  needsF32Scratch: boolean;
  needsF64Scratch: boolean;
}

function analyse(m: WasmModule, type: FuncType, code: Uint8Array, costs: CostTable): Analysis {
  const r = new Reader(code);
  const instrs: Instr[] = [];
  const charges = new Map<number, Charge>();
  const frames: Frame[] = [{ base: 0, params: 0, results: type.results.length }];
  let height = 0, maxHeight = 0;
  let segStart = 0, segCost = 0, segTest = true;
  let needsI32Scratch = false, needsF32Scratch = false, needsF64Scratch = false;
  const push = (n: number) => { height += n; if (height > maxHeight) maxHeight = height; };
  const pop = (n: number) => { height = Math.max(height - n, frames[frames.length - 1]!.base); };
  const closeSegment = (next: number, test = false) => {
    if (segCost > 0 || segTest) charges.set(segStart, { amount: segCost, test: segTest });
    segStart = next;
    segCost = 0;
    segTest = test;
  };
  while (!r.eof()) {
    if (frames.length === 0) r.fail('instructions after the final end');
    const ins = newInstr();
    readInstr(r, ins);
    const i = instrs.length;
    instrs.push(ins);
    const op = ins.op;
    segCost += instructionCost(costs, op);
    const frame = frames[frames.length - 1]!;
    switch (op) {
      case OP.block: case OP.loop: case OP.if: {
        if (op === OP.if) pop(1);
        const [p, q] = blockSignature(m, ins.a);
        frames.push({ base: height - p, params: p, results: q });
        if (op !== OP.block) closeSegment(i + 1, op === OP.loop); // loop heads and if arms are branch targets
        break;
      }
      case OP.else:
        height = frame.base + frame.params;
        closeSegment(i + 1);
        break;
      case OP.end:
        frames.pop();
        height = frame.base + frame.results;
        if (frames.length > 0) closeSegment(i + 1);
        break;
      case OP.br: case OP.return: case OP.unreachable:
        height = frame.base;
        break;
      case OP.br_table:
        height = frame.base;
        break;
      case OP.br_if:
        pop(1);
        break;
      case OP.call: {
        const t = funcTypeOf(m, ins.a);
        pop(t.params.length);
        push(t.results.length);
        break;
      }
      case OP.call_indirect: {
        const t = m.types[ins.a];
        if (!t) r.fail(`call_indirect type ${ins.a} out of range`);
        pop(t.params.length + 1);
        push(t.results.length);
        break;
      }
      case OP.select: case OP.select_t:
        pop(3);
        push(1);
        break;
      default: {
        const [p, q] = stackEffect(op);
        pop(p);
        push(q);
        if (op === OP.memory_grow || op === OP.memory_fill || op === OP.memory_copy || op === OP.memory_init ||
            op === OP.table_fill || op === OP.table_copy || op === OP.table_init || op === OP.table_grow) needsI32Scratch = true;
        const nan = producesArithmeticNaN(op);
        if (nan === 'f32') needsF32Scratch = true;
        else if (nan === 'f64') needsF64Scratch = true;
      }
    }
  }
  if (frames.length !== 0) throw new VmError('VM_MODULE_MALFORMED', 'function body does not end with end');
  closeSegment(instrs.length);
  return { instrs, charges, maxHeight, needsI32Scratch, needsF32Scratch, needsF64Scratch };
}

/**
 * Where the gas counter lives while a function runs: the i64 local `counter` (a register), published
 * to the exported global `global` around every call and on exit, and loaded back after calls.
 */
interface GasSlots {
  /** i64 global: the counter as handed between WebAssembly functions (and read by the VM at the end). */
  global: number;
  /** f64 global: the counter as host functions see it, a plain JS number (no BigInt per host call). */
  host: number;
  /** i64 local: the counter while the function runs. */
  counter: number;
}

/** counter -= amount; where tested, a negative counter is published (the host sees out of gas) and traps. */
function emitCharge(w: Writer, gas: GasSlots, charge: Charge): void {
  w.u8(OP.local_get).u32(gas.counter);
  if (charge.amount > 0) {
    w.u8(OP.i64_const).s64(BigInt(charge.amount)).u8(0x7d /* i64.sub */);
    if (!charge.test) {
      w.u8(OP.local_set).u32(gas.counter);
      return;
    }
    w.u8(OP.local_tee).u32(gas.counter);
  }
  emitGasCheck(w, gas);
}

function emitGasCheck(w: Writer, gas: GasSlots): void {
  w.u8(OP.i64_const).u8(0).u8(0x53 /* i64.lt_s */).u8(OP.if).u8(0x40);
  emitPublish(w, gas);
  w.u8(OP.unreachable).u8(OP.end);
}

function emitPublish(w: Writer, gas: GasSlots): void {
  w.u8(OP.local_get).u32(gas.counter).u8(OP.global_set).u32(gas.global);
}

function emitReload(w: Writer, gas: GasSlots): void {
  w.u8(OP.global_get).u32(gas.global).u8(OP.local_set).u32(gas.counter);
}

// The host's copy is an f64 holding an integer of magnitude below 2^53: exact both ways.
function emitPublishToHost(w: Writer, gas: GasSlots): void {
  w.u8(OP.local_get).u32(gas.counter).u8(0xb9 /* f64.convert_i64_s */).u8(OP.global_set).u32(gas.host);
}

function emitReloadFromHost(w: Writer, gas: GasSlots): void {
  w.u8(OP.global_get).u32(gas.host).u8(0xfc).u8(6 /* i64.trunc_sat_f64_s */).u8(OP.local_set).u32(gas.counter);
}

/** After a call_indirect the callee was WebAssembly (lowering the i64) or the host (lowering the f64): take the lower. */
function emitReloadFromEither(w: Writer, gas: GasSlots): void {
  w.u8(OP.global_get).u32(gas.global).u8(OP.global_get).u32(gas.host).u8(0xfc).u8(6);
  w.u8(OP.global_get).u32(gas.global).u8(OP.global_get).u32(gas.host).u8(0xfc).u8(6).u8(0x53 /* i64.lt_s */);
  w.u8(OP.select).u8(OP.local_set).u32(gas.counter);
}

/** Charges ceil(local / unitsPerGas) * multiplier, where local holds an i32 count. */
function emitDynamicCharge(w: Writer, gas: GasSlots, local: number, unitsPerGas: number, multiplier: number): void {
  w.u8(OP.local_get).u32(gas.counter).u8(OP.local_get).u32(local).u8(0xad /* i64.extend_i32_u */);
  if (unitsPerGas > 1) {
    w.u8(OP.i64_const).s64(BigInt(unitsPerGas - 1)).u8(0x7c /* i64.add */).u8(OP.i64_const).s64(BigInt(unitsPerGas)).u8(0x80 /* i64.div_u */);
  }
  if (multiplier !== 1) w.u8(OP.i64_const).s64(BigInt(multiplier)).u8(0x7e /* i64.mul */);
  w.u8(0x7d /* i64.sub */).u8(OP.local_tee).u32(gas.counter);
  emitGasCheck(w, gas);
}

function emitNaNCanonicalisation(w: Writer, kind: 'f32' | 'f64', local: number): void {
  w.u8(OP.local_tee).u32(local);
  if (kind === 'f32') w.u8(OP.f32_const).bytes(CANONICAL_NAN_F32).u8(OP.local_get).u32(local).u8(OP.local_get).u32(local).u8(0x5b /* f32.eq */);
  else w.u8(OP.f64_const).bytes(CANONICAL_NAN_F64).u8(OP.local_get).u32(local).u8(OP.local_get).u32(local).u8(0x61 /* f64.eq */);
  w.u8(OP.select);
}

/**
 * Returns the metered, stack-bounded module. Accepts any valid WebAssembly module within the
 * supported feature set; the determinism rules of deployment are checked separately (validate.ts).
 */
export function instrument(original: WasmModule, opts: InstrumentOptions): InstrumentedModule {
  const m: WasmModule = { ...original, types: [...original.types], globals: [...original.globals], exports: [...original.exports], functions: [...original.functions], bodies: [] };
  for (const e of m.exports) {
    if (e.name.startsWith(RESERVED_PREFIX)) throw new VmError('VM_MODULE_RESERVED_NAME', `export "${e.name}" uses the reserved prefix ${RESERVED_PREFIX}`);
  }
  const costs = opts.costs;
  const funcImports = importedCount(original, 'func');
  const globalImports = importedCount(original, 'global');
  if (!Number.isSafeInteger(opts.gasLimit) || opts.gasLimit < 0) throw new VmError('VM_BAD_REQUEST', 'the gas limit must be a non-negative safe integer');
  const gas = globalImports + m.globals.length;
  const sp = gas + 1;
  const hostGas = gas + 2;
  m.globals.push({ valType: I64, mutable: true, init: new Writer().u8(OP.i64_const).s64(BigInt(opts.gasLimit)).u8(OP.end).finish() });
  m.globals.push({ valType: I32, mutable: true, init: new Uint8Array([OP.i32_const, 0, OP.end]) });
  const hostInit = new Uint8Array(8);
  new DataView(hostInit.buffer).setFloat64(0, opts.gasLimit, true);
  m.globals.push({ valType: F64, mutable: true, init: new Writer().u8(OP.f64_const).bytes(hostInit).u8(OP.end).finish() });

  const frameCosts: number[] = [];
  for (let f = 0; f < original.bodies.length; f++) {
    const body = original.bodies[f]!;
    const type = original.types[original.functions[f]!];
    if (!type) throw new VmError('VM_MODULE_MALFORMED', `function ${f} has no type`);
    const a = analyse(m, type, body.code, costs);
    let localCount = type.params.length;
    for (const [n] of body.locals) localCount += n;
    const locals: Array<[number, number]> = [...body.locals];
    let next = localCount;
    const t32 = a.needsI32Scratch ? (locals.push([1, I32]), next++) : -1;
    const tf32 = a.needsF32Scratch ? (locals.push([1, F32]), next++) : -1;
    const tf64 = a.needsF64Scratch ? (locals.push([1, F64]), next++) : -1;
    locals.push([1, I64], [1, I32]);
    const g: GasSlots = { global: gas, host: hostGas, counter: next++ };
    const spLocal = next++;
    // Slots: params and locals (the instrumentation's own included), operand stack, fixed overhead.
    const frameCost = next + a.maxHeight + INSTRUMENTATION_SLOTS + FRAME_OVERHEAD_SLOTS;
    frameCosts.push(frameCost);

    const w = new Writer(body.code.length * 2 + 64);
    // Prologue: claim this frame's stack slots (trap past the limit), take the gas counter into a local.
    w.u8(OP.global_get).u32(sp).u8(OP.i32_const).s32(frameCost).u8(0x6a /* i32.add */).u8(OP.local_tee).u32(spLocal).u8(OP.global_set).u32(sp);
    w.u8(OP.local_get).u32(spLocal).u8(OP.i32_const).s32(opts.stackLimit).u8(0x4b /* i32.gt_u */).u8(OP.if).u8(0x40).u8(OP.unreachable).u8(OP.end);
    emitReload(w, g);
    // The body runs inside a block so that every way out (fall-through, br to the function label, return) passes the epilogue.
    const results = type.results;
    w.u8(OP.block);
    if (results.length === 0) w.u8(0x40);
    else if (results.length === 1) w.u8(results[0]!);
    else w.s32(typeIndex(m, [], results));
    let depth = 0;
    const code = body.code;
    for (let i = 0; i < a.instrs.length; i++) {
      const ins = a.instrs[i]!;
      const charge = a.charges.get(i);
      if (charge !== undefined) emitCharge(w, g, charge);
      const op = ins.op;
      switch (op) {
        case OP.block: case OP.loop: case OP.if:
          depth++;
          w.bytes(code.subarray(ins.start, ins.end));
          break;
        case OP.end:
          if (depth === 0) {
            // The function's own end: close the wrapper block, publish the gas counter, release the frame.
            w.u8(OP.end);
            emitPublish(w, g);
            w.u8(OP.local_get).u32(spLocal).u8(OP.i32_const).s32(frameCost).u8(0x6b /* i32.sub */).u8(OP.global_set).u32(sp);
            w.u8(OP.end);
          } else {
            depth--;
            w.u8(OP.end);
          }
          break;
        case OP.return:
          w.u8(OP.br).u32(depth);
          break;
        case OP.call:
          // A WebAssembly callee takes the counter from the i64 global and leaves it there; a host
          // function charges the f64 one.
          if (ins.a < funcImports) {
            emitPublishToHost(w, g);
            w.bytes(code.subarray(ins.start, ins.end));
            emitReloadFromHost(w, g);
          } else {
            emitPublish(w, g);
            w.bytes(code.subarray(ins.start, ins.end));
            emitReload(w, g);
          }
          break;
        case OP.call_indirect:
          emitPublish(w, g);
          emitPublishToHost(w, g);
          w.bytes(code.subarray(ins.start, ins.end));
          emitReloadFromEither(w, g);
          break;
        case OP.memory_grow:
          // [n] -> [old size | -1]; fails beyond the page limit, charges only pages actually added.
          w.u8(OP.local_set).u32(t32);
          w.u8(OP.local_get).u32(t32).u8(0xad).u8(OP.memory_size).u8(0).u8(0xad).u8(0x7c /* i64.add */)
            .u8(OP.i64_const).s64(BigInt(opts.maxMemoryPages)).u8(0x56 /* i64.gt_u */);
          w.u8(OP.if).u8(I32).u8(OP.i32_const).s32(-1).u8(OP.else);
          emitDynamicCharge(w, g, t32, 1, costs.memoryGrowPerPage);
          w.u8(OP.local_get).u32(t32).u8(OP.memory_grow).u8(0).u8(OP.end);
          break;
        case OP.memory_fill: case OP.memory_copy: case OP.memory_init:
        case OP.table_fill: case OP.table_copy: case OP.table_init: case OP.table_grow:
          // The length is on top of the stack for all of these.
          w.u8(OP.local_tee).u32(t32);
          emitDynamicCharge(w, g, t32, costs.bulkUnitsPerGas, 1);
          w.bytes(code.subarray(ins.start, ins.end));
          break;
        default: {
          w.bytes(code.subarray(ins.start, ins.end));
          const nan = producesArithmeticNaN(op);
          if (nan === 'f32') emitNaNCanonicalisation(w, 'f32', tf32);
          else if (nan === 'f64') emitNaNCanonicalisation(w, 'f64', tf64);
        }
      }
    }
    m.bodies.push({ locals, code: w.finish() });
  }

  // Shadow globals: __brop_save copies each mutable global into its shadow, __brop_reset copies it back.
  const save = new Writer();
  const reset = new Writer();
  original.globals.forEach((g, j) => {
    if (!g.mutable) return;
    const shadow = globalImports + m.globals.length;
    m.globals.push({ valType: g.valType, mutable: true, init: g.init });
    save.u8(OP.global_get).u32(globalImports + j).u8(OP.global_set).u32(shadow);
    reset.u8(OP.global_get).u32(shadow).u8(OP.global_set).u32(globalImports + j);
  });
  save.u8(OP.end);
  reset.u8(OP.i32_const).u8(0).u8(OP.global_set).u32(sp).u8(OP.end);
  const voidType = typeIndex(m, [], []);
  m.functions.push(voidType, voidType);
  m.bodies.push({ locals: [], code: save.finish() }, { locals: [], code: reset.finish() });
  const saveIndex = funcImports + m.functions.length - 2;
  const resetIndex = funcImports + m.functions.length - 1;

  m.exports.push({ name: EXPORT_GAS, kind: 'global', index: gas });
  m.exports.push({ name: EXPORT_HOST_GAS, kind: 'global', index: hostGas });
  m.exports.push({ name: EXPORT_STACK, kind: 'global', index: sp });
  m.exports.push({ name: EXPORT_RESET, kind: 'func', index: resetIndex });
  m.exports.push({ name: EXPORT_SAVE, kind: 'func', index: saveIndex });
  if (m.memories.length > 0 || original.imports.some((i) => i.desc.kind === 'memory')) {
    m.exports.push({ name: EXPORT_MEMORY, kind: 'memory', index: 0 });
  }
  return { bytes: encodeModule(m), frameCosts };
}
