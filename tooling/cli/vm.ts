/** `brop vm exec` and `brop vm instrument`: the VM for contract authors, without a chain. */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { instrument } from '../../vm/instrument.ts';
import { MemoryState } from '../../vm/state.ts';
import { MAX_GAS, Vm, codeHash, decodeModule } from '../../vm/vm.ts';
import { CliError, toJson } from './output.ts';

const DEFAULT_GAS = 10_000_000;
const CONTRACT = new Uint8Array(32).fill(0xc0);
const CALLER = new Uint8Array(32).fill(0x01);

function gasOption(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) > MAX_GAS) {
    throw new CliError('CLI_USAGE', `--gas must be a whole number up to ${MAX_GAS}`);
  }
  return Number(value);
}

function readModule(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new CliError('CLI_FILE', `cannot read ${path}: ${(e as Error).message}`);
  }
}

export function runVmCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  const { values, positionals } = (() => {
    try {
      return parseArgs({ args: rest, allowPositionals: true, options: { input: { type: 'string' }, gas: { type: 'string' } } });
    } catch (e) {
      throw new CliError('CLI_USAGE', (e as Error).message);
    }
  })();
  if (sub === 'exec') {
    const [file, method] = positionals;
    if (!file || !method || positionals.length > 2) throw new CliError('CLI_USAGE', 'usage: brop vm exec FILE.wasm EXPORT [--input HEX] [--gas N]');
    const hex = values.input ?? '';
    if (!/^(0x)?([0-9a-fA-F]{2})*$/.test(hex)) throw new CliError('CLI_USAGE', '--input must be hex bytes');
    const input = new Uint8Array(Buffer.from(hex.replace(/^0x/, ''), 'hex'));
    const gasLimit = gasOption(values.gas, DEFAULT_GAS);
    const code = readModule(file);
    const state = new MemoryState();
    const r = new Vm().call({ contract: CONTRACT, caller: CALLER, code, method, input, gasLimit }, { state, code: (a) => (Buffer.from(a).equals(CONTRACT) ? code : undefined) });
    process.stdout.write(`${toJson({
      ok: r.ok,
      result: r.result ?? null,
      output: r.output,
      gasUsed: r.gasUsed,
      error: r.error,
      events: r.events,
      writes: r.writes,
      ...(r.logs.length ? { logs: r.logs } : {}),
    })}\n`);
    return r.ok ? 0 : 1;
  }
  if (sub === 'instrument') {
    const [input, output] = positionals;
    if (!input || !output || positionals.length > 2) throw new CliError('CLI_USAGE', 'usage: brop vm instrument IN.wasm OUT.wasm [--gas N]');
    const gasLimit = gasOption(values.gas, DEFAULT_GAS);
    const code = readModule(input);
    const m = decodeModule(code);
    const out = instrument(m, new Vm().instrumentOptions(gasLimit));
    try {
      writeFileSync(output, out.bytes);
    } catch (e) {
      throw new CliError('CLI_FILE', `cannot write ${output}: ${(e as Error).message}`);
    }
    process.stdout.write(`${toJson({ ok: true, codeHash: codeHash(code), instrumentedHash: codeHash(out.bytes), bytes: out.bytes.length, functions: out.frameCosts.length, gasLimit })}\n`);
    return 0;
  }
  throw new CliError('CLI_USAGE', 'usage: brop vm exec|instrument ...');
}
