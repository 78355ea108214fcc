/**
 * A WebAssembly module decoded just far enough to validate it and rewrite it: the sections the VM
 * inspects or changes are decoded, everything else is kept as raw bytes and re-emitted verbatim.
 */
import { VmError } from '../errors.ts';
import { Reader, Writer } from './bytes.ts';
import { readNullHeapType } from './instructions.ts';

export const I32 = 0x7f, I64 = 0x7e, F32 = 0x7d, F64 = 0x7c, V128 = 0x7b, FUNCREF = 0x70, EXTERNREF = 0x6f;
const VALTYPES = new Set([I32, I64, F32, F64, V128, FUNCREF, EXTERNREF]);

export interface FuncType { params: number[]; results: number[] }
export interface Limits { min: number; max: number | undefined; shared: boolean }
export type ImportDesc =
  | { kind: 'func'; typeIndex: number }
  | { kind: 'table'; refType: number; limits: Limits }
  | { kind: 'memory'; limits: Limits }
  | { kind: 'global'; valType: number; mutable: boolean };
export interface Import { module: string; name: string; desc: ImportDesc }
export interface Global { valType: number; mutable: boolean; init: Uint8Array }
export type ExportKind = 'func' | 'table' | 'memory' | 'global';
export interface Export { name: string; kind: ExportKind; index: number }
export interface FunctionBody {
  /** Run-length local declarations, as in the binary: [count, type]. */
  locals: Array<[number, number]>;
  /** The instruction bytes, ending with the function's final `end`. */
  code: Uint8Array;
}

export interface WasmModule {
  types: FuncType[];
  imports: Import[];
  /** Type index of each function defined in the module (imported functions excluded). */
  functions: number[];
  tables: Array<{ refType: number; limits: Limits }>;
  memories: Limits[];
  globals: Global[];
  exports: Export[];
  start: number | undefined;
  bodies: FunctionBody[];
  /** Raw payloads of sections kept verbatim. */
  elementSection: Uint8Array | undefined;
  dataSection: Uint8Array | undefined;
  dataCount: number | undefined;
  customSections: Array<{ name: string; payload: Uint8Array }>;
}

const SECTION = { custom: 0, type: 1, import: 2, function: 3, table: 4, memory: 5, global: 6, export: 7, start: 8, element: 9, code: 10, data: 11, dataCount: 12, tag: 13 } as const;
/** Binary order of the non-custom sections (datacount precedes code). */
const ORDER = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];
const EXPORT_KINDS: ExportKind[] = ['func', 'table', 'memory', 'global'];

export function importedCount(m: WasmModule, kind: ImportDesc['kind']): number {
  let n = 0;
  for (const imp of m.imports) if (imp.desc.kind === kind) n++;
  return n;
}

/** Function type of function index `f` in the function index space (imports first). */
export function funcTypeOf(m: WasmModule, f: number): FuncType {
  let i = 0;
  for (const imp of m.imports) {
    if (imp.desc.kind !== 'func') continue;
    if (i === f) return m.types[imp.desc.typeIndex]!;
    i++;
  }
  const t = m.functions[f - i];
  if (t === undefined) throw new VmError('VM_MODULE_MALFORMED', `function index ${f} out of range`);
  return m.types[t]!;
}

function unsupported(what: string): never {
  throw new VmError('VM_MODULE_UNSUPPORTED', `the VM does not support ${what}`);
}

function valType(r: Reader): number {
  const t = r.u8();
  if (t === V128) unsupported('SIMD (v128 values)');
  if (!VALTYPES.has(t)) {
    if (t === 0x64 || t === 0x63 || (t >= 0x69 && t <= 0x6e) || t === 0x71 || t === 0x72 || t === 0x73 || t === 0x74) unsupported('GC or typed function reference types');
    r.fail(`unknown value type 0x${t.toString(16)}`);
  }
  return t;
}

function limits(r: Reader, isMemory: boolean): Limits {
  const flag = r.u8();
  if (flag > 3) {
    if (isMemory && flag <= 7) unsupported('64-bit memories');
    r.fail(`unknown limits flag ${flag}`);
  }
  const min = r.u32();
  const max = flag & 1 ? r.u32() : undefined;
  return { min, max, shared: (flag & 2) !== 0 };
}

/** Reads a constant expression up to and including its `end`; returns its bytes. */
function constExpr(r: Reader): Uint8Array {
  const start = r.pos;
  for (;;) {
    const op = r.u8();
    switch (op) {
      case 0x0b: return r.bytes.subarray(start, r.pos);
      case 0x41: r.skipSigned(5); break;
      case 0x42: r.skipSigned(10); break;
      case 0x43: r.take(4); break;
      case 0x44: r.take(8); break;
      case 0x23: case 0xd2: r.u32(); break;
      case 0xd0: readNullHeapType(r); break;
      case 0x6a: case 0x6b: case 0x6c: case 0x7c: case 0x7d: case 0x7e: break; // extended-const arithmetic
      case 0xfd: unsupported('SIMD');
      default: r.fail(`opcode 0x${op.toString(16)} in a constant expression`);
    }
  }
}

export function parseModule(bytes: Uint8Array): WasmModule {
  const r = new Reader(bytes);
  if (bytes.length < 8 || r.u8() !== 0 || r.u8() !== 0x61 || r.u8() !== 0x73 || r.u8() !== 0x6d) {
    throw new VmError('VM_MODULE_MALFORMED', 'not a WebAssembly module (bad magic)');
  }
  if (r.u8() !== 1 || r.u8() !== 0 || r.u8() !== 0 || r.u8() !== 0) {
    throw new VmError('VM_MODULE_MALFORMED', 'unsupported WebAssembly binary version (components are not modules)');
  }
  const m: WasmModule = {
    types: [], imports: [], functions: [], tables: [], memories: [], globals: [], exports: [],
    start: undefined, bodies: [], elementSection: undefined, dataSection: undefined, dataCount: undefined, customSections: [],
  };
  let lastId = 0;
  while (!r.eof()) {
    const id = r.u8();
    const size = r.u32();
    const s = new Reader(bytes, r.pos, r.pos + size);
    if (size > r.end - r.pos) r.fail('section extends beyond the module');
    r.pos += size;
    if (id !== SECTION.custom) {
      if (id === SECTION.tag) unsupported('exception handling (tag section)');
      if (id > 12) s.fail(`unknown section id ${id}`);
      const rank = ORDER.indexOf(id);
      if (rank <= ORDER.indexOf(lastId)) s.fail(`section ${id} out of order or repeated`);
      lastId = id;
    }
    switch (id) {
      case SECTION.custom: {
        const name = s.name();
        m.customSections.push({ name, payload: s.take(s.end - s.pos) });
        break;
      }
      case SECTION.type:
        for (let n = s.u32(); n > 0; n--) {
          const form = s.u8();
          if (form !== 0x60) {
            if (form === 0x4e || form === 0x4f || form === 0x50 || form === 0x5e || form === 0x5f) unsupported('GC types');
            s.fail(`unknown type form 0x${form.toString(16)}`);
          }
          const params: number[] = [];
          for (let k = s.u32(); k > 0; k--) params.push(valType(s));
          const results: number[] = [];
          for (let k = s.u32(); k > 0; k--) results.push(valType(s));
          m.types.push({ params, results });
        }
        break;
      case SECTION.import:
        for (let n = s.u32(); n > 0; n--) {
          const module = s.name();
          const name = s.name();
          const kind = s.u8();
          let desc: ImportDesc;
          if (kind === 0) desc = { kind: 'func', typeIndex: s.u32() };
          else if (kind === 1) desc = { kind: 'table', refType: valType(s), limits: limits(s, false) };
          else if (kind === 2) desc = { kind: 'memory', limits: limits(s, true) };
          else if (kind === 3) desc = { kind: 'global', valType: valType(s), mutable: s.u8() === 1 };
          else if (kind === 4) return unsupported('exception handling (tag import)');
          else return s.fail(`unknown import kind ${kind}`);
          m.imports.push({ module, name, desc });
        }
        break;
      case SECTION.function:
        for (let n = s.u32(); n > 0; n--) m.functions.push(s.u32());
        break;
      case SECTION.table:
        for (let n = s.u32(); n > 0; n--) {
          if (s.bytes[s.pos] === 0x40) unsupported('tables with initialiser expressions');
          m.tables.push({ refType: valType(s), limits: limits(s, false) });
        }
        break;
      case SECTION.memory:
        for (let n = s.u32(); n > 0; n--) m.memories.push(limits(s, true));
        break;
      case SECTION.global:
        for (let n = s.u32(); n > 0; n--) {
          const t = valType(s);
          const mut = s.u8();
          if (mut > 1) s.fail('bad global mutability');
          m.globals.push({ valType: t, mutable: mut === 1, init: constExpr(s) });
        }
        break;
      case SECTION.export:
        for (let n = s.u32(); n > 0; n--) {
          const name = s.name();
          const kind = s.u8();
          if (kind > 3) kind === 4 ? unsupported('exception handling (tag export)') : s.fail(`unknown export kind ${kind}`);
          m.exports.push({ name, kind: EXPORT_KINDS[kind]!, index: s.u32() });
        }
        break;
      case SECTION.start:
        m.start = s.u32();
        break;
      case SECTION.element:
        m.elementSection = s.take(size);
        break;
      case SECTION.dataCount:
        m.dataCount = s.u32();
        break;
      case SECTION.code:
        for (let n = s.u32(); n > 0; n--) {
          const bodySize = s.u32();
          if (bodySize > s.end - s.pos) s.fail('function body extends beyond its section');
          const b = new Reader(bytes, s.pos, s.pos + bodySize);
          s.pos += bodySize;
          const locals: Array<[number, number]> = [];
          for (let k = b.u32(); k > 0; k--) locals.push([b.u32(), valType(b)]);
          m.bodies.push({ locals, code: b.take(b.end - b.pos) });
        }
        break;
      case SECTION.data:
        m.dataSection = s.take(size);
        break;
    }
    if (id !== SECTION.element && id !== SECTION.data && id !== SECTION.custom && !s.eof()) s.fail(`section ${id} has trailing bytes`);
  }
  if (m.functions.length !== m.bodies.length) throw new VmError('VM_MODULE_MALFORMED', 'function and code sections disagree in length');
  return m;
}

function writeLimits(w: Writer, l: Limits): void {
  const flag = (l.max !== undefined ? 1 : 0) | (l.shared ? 2 : 0);
  w.u8(flag).u32(l.min);
  if (l.max !== undefined) w.u32(l.max);
}

function section(out: Writer, id: number, body: Writer): void {
  out.u8(id).sized(body);
}

export function encodeModule(m: WasmModule): Uint8Array {
  const out = new Writer(1 << 16);
  out.bytes(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  if (m.types.length) {
    const w = new Writer().u32(m.types.length);
    for (const t of m.types) {
      w.u8(0x60).u32(t.params.length);
      for (const p of t.params) w.u8(p);
      w.u32(t.results.length);
      for (const p of t.results) w.u8(p);
    }
    section(out, SECTION.type, w);
  }
  if (m.imports.length) {
    const w = new Writer().u32(m.imports.length);
    for (const imp of m.imports) {
      w.name(imp.module).name(imp.name);
      const d = imp.desc;
      if (d.kind === 'func') w.u8(0).u32(d.typeIndex);
      else if (d.kind === 'table') { w.u8(1).u8(d.refType); writeLimits(w, d.limits); }
      else if (d.kind === 'memory') { w.u8(2); writeLimits(w, d.limits); }
      else w.u8(3).u8(d.valType).u8(d.mutable ? 1 : 0);
    }
    section(out, SECTION.import, w);
  }
  if (m.functions.length) {
    const w = new Writer().u32(m.functions.length);
    for (const f of m.functions) w.u32(f);
    section(out, SECTION.function, w);
  }
  if (m.tables.length) {
    const w = new Writer().u32(m.tables.length);
    for (const t of m.tables) { w.u8(t.refType); writeLimits(w, t.limits); }
    section(out, SECTION.table, w);
  }
  if (m.memories.length) {
    const w = new Writer().u32(m.memories.length);
    for (const l of m.memories) writeLimits(w, l);
    section(out, SECTION.memory, w);
  }
  if (m.globals.length) {
    const w = new Writer().u32(m.globals.length);
    for (const g of m.globals) w.u8(g.valType).u8(g.mutable ? 1 : 0).bytes(g.init);
    section(out, SECTION.global, w);
  }
  if (m.exports.length) {
    const w = new Writer().u32(m.exports.length);
    for (const e of m.exports) w.name(e.name).u8(EXPORT_KINDS.indexOf(e.kind)).u32(e.index);
    section(out, SECTION.export, w);
  }
  if (m.start !== undefined) section(out, SECTION.start, new Writer().u32(m.start));
  if (m.elementSection) section(out, SECTION.element, new Writer().bytes(m.elementSection));
  if (m.dataCount !== undefined) section(out, SECTION.dataCount, new Writer().u32(m.dataCount));
  if (m.bodies.length) {
    const w = new Writer(1 << 16).u32(m.bodies.length);
    for (const b of m.bodies) {
      const fb = new Writer(b.code.length + 16).u32(b.locals.length);
      for (const [n, t] of b.locals) fb.u32(n).u8(t);
      fb.bytes(b.code);
      w.sized(fb);
    }
    section(out, SECTION.code, w);
  }
  if (m.dataSection) section(out, SECTION.data, new Writer().bytes(m.dataSection));
  for (const c of m.customSections) section(out, SECTION.custom, new Writer().name(c.name).bytes(c.payload));
  return out.finish();
}
