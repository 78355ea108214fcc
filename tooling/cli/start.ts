/**
 * `brop start` (and `npm start`). The chain node is not built yet, so this starts what exists: it
 * compiles a demo registry contract, runs it in the VM against in-memory state, and prints each call
 * as a JSON line. The node issue replaces this with a local single-validator chain.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { compileAssemblyScript } from '../build/assemblyscript.ts';
import { MemoryState } from '../../vm/state.ts';
import { Vm, codeHash } from '../../vm/vm.ts';
import { toJson } from './output.ts';

export async function runStart(_argv: string[]): Promise<number> {
  const source = fileURLToPath(new URL('./demo/assembly/registry.ts', import.meta.url));
  const { wasm } = await compileAssemblyScript(source);
  const vm = new Vm();
  const state = new MemoryState();
  const contract = createHash('sha256').update('demo/registry').digest();
  const alice = createHash('sha256').update('alice').digest();
  const bob = createHash('sha256').update('bob').digest();
  const doc = createHash('sha256').update('contract-2026-001.pdf').digest();
  const env = { state, code: (a: Uint8Array) => (Buffer.from(a).equals(contract) ? wasm : undefined) };
  console.log(toJson({ event: 'deployed', contract, codeHash: codeHash(wasm), bytes: wasm.length }));
  const steps: Array<[string, Uint8Array, Uint8Array]> = [
    ['register', alice, doc], ['register', bob, doc], ['lookup', bob, doc],
  ];
  for (const [method, caller, input] of steps) {
    const r = vm.call({ contract, caller, method, input, gasLimit: 1_000_000 }, env);
    if (r.ok) state.apply(r.writes);
    console.log(toJson({ call: method, caller, ok: r.ok, gasUsed: r.gasUsed, error: r.error, output: r.output, events: r.events.length }));
  }
  console.log(toJson({ event: 'done', note: 'the VM works; the chain node (brop start --home DIR) arrives with the node issue' }));
  return 0;
}
