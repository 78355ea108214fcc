/**
 * `brop contract build DIR`: compiles a contract project (DIR/assembly/index.ts) into DIR/build/NAME.wasm
 * and DIR/build/NAME.abi.json.
 *
 * The ABI comes from the source, never from a hand-kept copy: the AssemblyScript parser reads the
 * exported functions of the entry file (the methods; `@view` marks read-only ones) and the classes
 * marked `@serializable` (the structs). From them the build generates, in memory:
 * - for each method, a parameterless export of the same name that decodes the call input with the
 *   BROP codec, calls the author's function and encodes its return value;
 * - for each @serializable class, `__encode`/`__decode` methods, field by field in declaration order.
 * The events are read from the `emit<T>("name", ...)` and `emitEncoded<T>("name", ...)` calls of the
 * contract's own sources: each name with the type of its data, so clients decode events from the ABI.
 * Generated code is added at the ends of existing lines, so compiler messages keep the author's line numbers.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AbiField, AbiType } from '../../contracts/sdk/codec.ts';
import { ASC_FLAGS, CompileError, withAsc } from './assemblyscript.ts';

export const ABI_VERSION = 1;
export const SDK_PACKAGE = '@brop/sdk';
const SDK_DIR = fileURLToPath(new URL('../../contracts/sdk/assembly/', import.meta.url));

export interface AbiMethod {
  name: string;
  /** `view` methods only read state; the node runs them as read-only queries. */
  kind: 'call' | 'view';
  params: AbiField[];
  returns: AbiType | null;
}

/** An event the contract emits: topic 0 is `name`, the data is the codec encoding of a `data` value. */
export interface AbiEvent {
  name: string;
  data: AbiType;
}

export interface ContractAbi {
  abiVersion: number;
  name: string;
  /** sha256 of the wasm: the code hash the chain deploys. */
  codeHash: string;
  methods: AbiMethod[];
  structs: Record<string, AbiField[]>;
  /** Absent in ABIs built before events were described. */
  events?: AbiEvent[];
}

export interface BuildResult {
  wasm: Uint8Array;
  abi: ContractAbi;
  wasmPath: string;
  abiPath: string;
}

/** The parts of the AssemblyScript parser API used here (its typings clash with Node's globals). */
interface AsNode { kind: number; range: { start: number; end: number }; [k: string]: unknown }
interface AsApi {
  LiteralKind: Record<string, number>;
  newOptions(): unknown;
  newProgram(options: unknown): { sources: Array<{ normalizedPath: string; statements: AsNode[] }> };
  parse(program: unknown, text: string, path: string, isEntry: boolean): void;
  nextDiagnostic(program: unknown): unknown;
  getDiagnosticMessage(d: unknown): string;
  isError(d: unknown): boolean;
  NodeKind: Record<string, number>;
  CommonFlags: Record<string, number>;
}
// The AssemblyScript parser, set by buildContract (through withAsc) before generate runs.
let as: AsApi;
let K: Record<string, number>;
function useParser(parser: unknown): void {
  as = parser as AsApi;
  K = as.NodeKind;
}

interface TypeNode extends AsNode { name?: { identifier: { text: string }; next: unknown }; typeArguments?: TypeNode[] | null; isNullable: boolean }
interface Decorated extends AsNode { name: { text: string }; decorators?: Array<{ name: { text?: string } }> | null; flags: number }

const INTEGER_TYPES = new Set(['bool', 'u8', 'u16', 'u32', 'u64', 'i8', 'i16', 'i32', 'i64']);
const BYTES32_TYPES = new Set(['Bytes32', 'Address', 'Hash']);

function decoratorNames(n: Decorated): string[] {
  return (n.decorators ?? []).map((d) => d.name.text ?? '');
}

interface ParsedFile { path: string; text: string; statements: Decorated[] }

/** Maps a source type to its ABI type; `where` names the place for error messages. */
function abiType(t: TypeNode, text: string, structs: ReadonlySet<string>, where: string): AbiType {
  const src = text.slice(t.range.start, t.range.end);
  if (t.kind !== K.NamedType || !t.name) throw new CompileError(`${where}: type "${src}" is not supported by the BROP codec`);
  const name = t.name.identifier.text;
  const args = t.typeArguments ?? [];
  let base: AbiType;
  if (INTEGER_TYPES.has(name)) base = name as AbiType;
  else if (name === 'string') base = 'string';
  else if (name === 'Uint8Array') base = 'bytes';
  else if (BYTES32_TYPES.has(name)) base = 'bytes32';
  else if (name === 'U128') base = 'u128';
  else if (name === 'Array' && args.length === 1) base = { array: abiType(args[0]!, text, structs, where) };
  else if (structs.has(name)) base = { struct: name };
  else {
    const hint = name === 'f32' || name === 'f64' ? ' (amounts are integers: u64 or U128)' : name === 'usize' || name === 'isize' ? ' (use a sized integer)' : ' (mark the class @serializable)';
    throw new CompileError(`${where}: type "${src}" is not supported by the BROP codec${hint}`);
  }
  if (t.isNullable) {
    if (INTEGER_TYPES.has(name)) throw new CompileError(`${where}: "${src}": only reference types can be null`);
    return { option: base };
  }
  return base;
}

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...listSources(p));
    else if (f.endsWith('.ts') && !f.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every source file of the project: assembly/ and the included folders. */
function projectSources(dir: string, config: ProjectConfig): string[] {
  return [join(dir, 'assembly'), ...config.include.map((d) => resolve(dir, d))].flatMap(listSources);
}

function parseFiles(files: string[], root: string): ParsedFile[] {
  const program = as.newProgram(as.newOptions());
  const parsed: ParsedFile[] = [];
  for (const path of files) {
    const text = readFileSync(path, 'utf8');
    const internal = relative(root, path).split(sep).join('/').replace(/\.ts$/, '');
    as.parse(program, text, `${internal}.ts`, false);
    const source = program.sources.find((s) => s.normalizedPath === `${internal}.ts`);
    parsed.push({ path, text, statements: (source?.statements ?? []) as Decorated[] });
  }
  const errors: string[] = [];
  for (let d = as.nextDiagnostic(program); d; d = as.nextDiagnostic(program)) if (as.isError(d)) errors.push(as.getDiagnosticMessage(d));
  if (errors.length) throw new CompileError(`syntax errors:\n${errors.join('\n')}`);
  return parsed;
}

function lineOf(text: string, pos: number): number {
  let n = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

const CODEC = '__brop_codec';
const SDK = '__brop_sdk';

export interface GeneratedSources {
  /** Source texts to compile in place of the files on disk. */
  texts: Map<string, string>;
  abi: Omit<ContractAbi, 'codeHash'>;
}

/** Reads the contract's sources and produces the generated texts and the ABI (without code hash). */
function generate(dir: string, config: ProjectConfig): GeneratedSources {
  const name = config.name;
  const assemblyDir = join(dir, 'assembly');
  const entry = join(assemblyDir, 'index.ts');
  if (!existsSync(entry)) throw new CompileError(`${entry} not found: a contract project has its entry at assembly/index.ts`);
  const files = parseFiles(projectSources(dir, config), dir);
  const structNames = new Set<string>();
  for (const f of files) for (const s of f.statements) if (s.kind === K.ClassDeclaration && decoratorNames(s).includes('serializable')) {
    if (structNames.has(s.name.text)) throw new CompileError(`${f.path}: two @serializable classes are named ${s.name.text}`);
    structNames.add(s.name.text);
  }
  const structs: Record<string, AbiField[]> = {};
  const texts = new Map<string, string>();
  const methods: AbiMethod[] = [];
  const events = new Map<string, AbiEvent>();
  for (const f of files) {
    if (!f.path.startsWith(assemblyDir + sep)) continue; // included shared code is not the contract's own
    for (const e of emittedEvents(f, structNames)) {
      const known = events.get(e.name);
      if (known && JSON.stringify(known.data) !== JSON.stringify(e.data)) throw new CompileError(`${f.path}: event "${e.name}" is emitted with two different data types`);
      events.set(e.name, e);
    }
  }
  for (const f of files) {
    let text = f.text;
    const edits: Array<{ at: number; remove: number; insert: string }> = [];
    for (const s of f.statements) {
      if (s.kind !== K.ClassDeclaration || !decoratorNames(s).includes('serializable')) continue;
      const members = (s.members as Array<Decorated & { type: TypeNode | null }>) ?? [];
      const fields = members.filter((m) => m.kind === K.FieldDeclaration && !(m.flags & as.CommonFlags.Static!));
      const abiFields: AbiField[] = fields.map((m) => {
        if (!m.type) throw new CompileError(`${f.path}:${lineOf(f.text, m.range.start)}: field ${s.name.text}.${m.name.text} needs a declared type`);
        return { name: m.name.text, type: abiType(m.type, f.text, structNames, `${f.path}:${lineOf(f.text, m.range.start)}: field ${s.name.text}.${m.name.text}`) };
      });
      structs[s.name.text] = abiFields;
      const typeText = (m: { type: TypeNode | null }) => f.text.slice(m.type!.range.start, m.type!.range.end);
      const enc = fields.map((m) => `${CODEC}.encodeValue<${typeText(m)}>(e, this.${m.name.text});`).join(' ');
      const dec = fields.map((m) => `this.${m.name.text} = ${CODEC}.decodeValue<${typeText(m)}>(d);`).join(' ');
      const close = s.range.end - 1; // the class's closing brace
      edits.push({ at: close, remove: 0, insert: ` __encode(e: ${CODEC}.Encoder): void { ${enc} } __decode(d: ${CODEC}.Decoder): void { ${dec} } ` });
    }
    const wrappers: string[] = [];
    if (f.path === entry) {
      for (const s of f.statements) {
        if (s.kind !== K.FunctionDeclaration || !(s.flags & as.CommonFlags.Export!)) continue;
        const fname = s.name.text;
        const where = `${f.path}:${lineOf(f.text, s.range.start)}: method ${fname}`;
        if (fname.startsWith('__brop_') || fname === '_initialize') throw new CompileError(`${where}: the name is reserved`);
        const sig = s.signature as { parameters: Array<{ name: { text: string }; type: TypeNode }>; returnType: TypeNode };
        const params = sig.parameters.map((p) => ({ name: p.name.text, type: abiType(p.type, f.text, structNames, `${where}, parameter ${p.name.text}`) }));
        const retText = f.text.slice(sig.returnType.range.start, sig.returnType.range.end);
        const returns = retText === 'void' ? null : abiType(sig.returnType, f.text, structNames, `${where}, return type`);
        methods.push({ name: fname, kind: decoratorNames(s).includes('view') ? 'view' : 'call', params, returns });
        // Unexport the author's function (same length, so positions stay) and export the wrapper under its name.
        const stmt = f.text.slice(s.range.start, s.range.end);
        const m = new RegExp(`\\bexport(\\s+function\\s+${fname}\\b)`).exec(stmt);
        if (!m) throw new CompileError(`${where}: cannot locate its declaration`);
        edits.push({ at: s.range.start + m.index, remove: 6, insert: '      ' });
        const args = sig.parameters.map((p, i) => `const a${i} = ${CODEC}.decodeValue<${f.text.slice(p.type.range.start, p.type.range.end)}>(d);`).join(' ');
        const call = `${fname}(${sig.parameters.map((_, i) => `a${i}`).join(', ')})`;
        const body = returns === null ? `${call};` : `${SDK}.returnData(${CODEC}.encode<${retText}>(${call}));`;
        wrappers.push(`function __brop_method_${fname}(): void { const d = new ${CODEC}.Decoder(${SDK}.Context.input()); ${args} d.end(); ${body} } export { __brop_method_${fname} as ${fname} };`);
      }
      if (methods.length === 0) throw new CompileError(`${entry}: exports no methods (exported functions)`);
    }
    if (edits.length === 0 && wrappers.length === 0) continue;
    for (const e of edits.sort((a, b) => b.at - a.at)) text = text.slice(0, e.at) + e.insert + text.slice(e.at + e.remove);
    text += `\nimport * as ${CODEC} from "${SDK_PACKAGE}/codec"; import * as ${SDK} from "${SDK_PACKAGE}"; ${wrappers.join(' ')}\n`;
    texts.set(f.path, text);
  }
  return { texts, abi: { abiVersion: ABI_VERSION, name, methods, structs, events: [...events.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) } };
}

const EMITTERS = new Set(['emit', 'emitEncoded']);

/** The `emit<T>(name, ...)` and `emitEncoded<T>(name, ...)` calls in a file, as events. */
function emittedEvents(f: ParsedFile, structs: ReadonlySet<string>): AbiEvent[] {
  const out: AbiEvent[] = [];
  const names = (n: AsNode, where: string): string[] => {
    if (n.kind === K.Literal && n.literalKind === as.LiteralKind.String) return [n.value as string];
    if (n.kind === K.Ternary) return [...names(n.ifThen as AsNode, where), ...names(n.ifElse as AsNode, where)];
    throw new CompileError(`${where}: an event's name must be a string literal (or a choice of two), so the ABI can list it`);
  };
  const seen = new Set<unknown>();
  const walk = (n: unknown): void => {
    if (n === null || typeof n !== 'object' || seen.has(n)) return;
    seen.add(n);
    if (Array.isArray(n)) {
      for (const x of n) walk(x);
      return;
    }
    const node = n as AsNode;
    if (node.kind === K.Call) {
      const callee = node.expression as AsNode;
      if (callee.kind === K.Identifier && EMITTERS.has(callee.text as string)) {
        const where = `${f.path}:${lineOf(f.text, node.range.start)}`;
        const typeArgs = (node.typeArguments as TypeNode[] | null) ?? [];
        if (typeArgs.length !== 1) throw new CompileError(`${where}: write ${callee.text as string}<T>(...) with the data's type, so the ABI can describe the event`);
        const data = abiType(typeArgs[0]!, f.text, structs, `${where}: event data`);
        for (const name of names((node.args as AsNode[])[0]!, where)) out.push({ name, data });
      }
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'range') walk(v);
  };
  walk(f.statements);
  return out;
}

/** Resolves `@brop/sdk` imports to this repository's SDK, wherever the contract project lives. */
function sdkFile(path: string): string | undefined {
  const m = /node_modules[\\/]@brop[\\/]sdk[\\/](.*)$/.exec(path);
  if (!m) return undefined;
  const p = join(SDK_DIR, m[1]!);
  return existsSync(p) ? p : undefined;
}

export interface ProjectConfig {
  name: string;
  /** Source folders outside assembly/ that the contract imports (shared code), relative to the project. */
  include: string[];
}

/** brop.json: {"name": "...", "include": ["../common/assembly"]}; both optional. */
export function projectConfig(dir: string): ProjectConfig {
  const cfg = join(dir, 'brop.json');
  const fallback = basename(resolve(dir)).toLowerCase().replace(/[^a-z0-9_-]/g, '-');
  if (!existsSync(cfg)) return { name: fallback, include: [] };
  let raw: { name?: unknown; include?: unknown };
  try {
    raw = JSON.parse(readFileSync(cfg, 'utf8')) as typeof raw;
  } catch (e) {
    throw new CompileError(`${cfg}: ${(e as Error).message}`);
  }
  const name = raw.name ?? fallback;
  if (typeof name !== 'string' || !/^[a-z][a-z0-9_-]{0,63}$/.test(name)) throw new CompileError(`${cfg}: "name" must be lower-case letters, digits, - or _`);
  const include = raw.include ?? [];
  if (!Array.isArray(include) || !include.every((d) => typeof d === 'string' && existsSync(join(dir, d)))) {
    throw new CompileError(`${cfg}: "include" must list existing source folders`);
  }
  return { name, include: include as string[] };
}

/** Builds a contract project. Same sources, same flags: same bytes and code hash. */
const CACHE_DIR = fileURLToPath(new URL('../../build/contracts', import.meta.url));
const ascVersion: string = JSON.parse(readFileSync(fileURLToPath(new URL('../../node_modules/assemblyscript/package.json', import.meta.url)), 'utf8')).version;

/** Cache key: compiler version, flags, this build tool, and every source the contract can see. */
function cacheKey(dir: string, config: ProjectConfig): string {
  const h = createHash('sha256').update(ascVersion).update(JSON.stringify(ASC_FLAGS)).update(readFileSync(fileURLToPath(import.meta.url)));
  h.update(JSON.stringify(config));
  for (const f of [...projectSources(dir, config), ...listSources(SDK_DIR)]) h.update(relative(dir, f)).update(readFileSync(f));
  return h.digest('hex').slice(0, 40);
}

/**
 * Builds a contract project. Same sources, same flags: same bytes and code hash. Results are cached
 * under build/contracts by a hash of everything that goes into them.
 */
export async function buildContract(dirIn: string, opts: { outDir?: string; cache?: boolean } = {}): Promise<BuildResult> {
  const dir = resolve(dirIn);
  const entry = join(dir, 'assembly', 'index.ts');
  if (!existsSync(entry)) throw new CompileError(`${entry} not found: a contract project has its entry at assembly/index.ts`);
  const config = projectConfig(dir);
  const name = config.name;
  const outDir = opts.outDir ?? join(dir, 'build');
  const key = cacheKey(dir, config);
  const cachedWasm = join(CACHE_DIR, `${key}.wasm`);
  const cachedAbi = join(CACHE_DIR, `${key}.abi.json`);
  if (opts.cache !== false && existsSync(cachedWasm) && existsSync(cachedAbi)) {
    const wasm = new Uint8Array(readFileSync(cachedWasm));
    const abi = JSON.parse(readFileSync(cachedAbi, 'utf8')) as ContractAbi;
    return writeOutputs(outDir, name, wasm, abi);
  }
  const { texts, abi } = await withAsc(({ parser }) => {
    useParser(parser);
    return generate(dir, config);
  });
  const outputs = new Map<string, Uint8Array | string>();
  let stderrText = '';
  const { error } = await withAsc(({ asc }) => asc.main(['assembly/index.ts', ...ASC_FLAGS, '--baseDir', dir, '--outFile', 'out.wasm'], {
    readFile: (file, baseDir) => {
      const p = resolve(baseDir, file);
      const generated = texts.get(p);
      if (generated !== undefined) return generated;
      const sdk = sdkFile(p);
      if (sdk) return readFileSync(sdk, 'utf8');
      return existsSync(p) && statSync(p).isFile() ? readFileSync(p, 'utf8') : null;
    },
    writeFile: (file, contents) => { outputs.set(basename(file), contents); },
    listFiles: () => null,
    stdout: { write: () => true },
    stderr: { write: (s) => { stderrText += typeof s === 'string' ? s : Buffer.from(s).toString(); return true; } },
  }));
  const wasm = outputs.get('out.wasm');
  if (error || !(wasm instanceof Uint8Array)) throw new CompileError(`build of ${dir} failed:\n${stderrText.replace(/^WARNING AS235[^\n]*\n(?:[^\n]*\n){3}/gm, '') || error?.message}`);
  const full: ContractAbi = { ...abi, codeHash: createHash('sha256').update(wasm).digest('hex') };
  mkdirSync(CACHE_DIR, { recursive: true });
  // Write-then-rename: a killed build never leaves a truncated cache entry.
  writeFileSync(`${cachedAbi}.tmp`, JSON.stringify(full));
  writeFileSync(`${cachedWasm}.tmp`, wasm);
  renameSync(`${cachedAbi}.tmp`, cachedAbi);
  renameSync(`${cachedWasm}.tmp`, cachedWasm);
  return writeOutputs(outDir, name, wasm, full);
}

function writeOutputs(outDir: string, name: string, wasm: Uint8Array, abi: ContractAbi): BuildResult {
  mkdirSync(outDir, { recursive: true });
  const wasmPath = join(outDir, `${name}.wasm`);
  const abiPath = join(outDir, `${name}.abi.json`);
  writeFileSync(wasmPath, wasm);
  writeFileSync(abiPath, `${JSON.stringify(abi, null, 2)}\n`);
  return { wasm, abi, wasmPath, abiPath };
}
