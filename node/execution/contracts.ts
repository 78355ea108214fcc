/**
 * The contracts a node runs: code and ABI by address. At genesis these are the system contracts,
 * stored by code hash; the node looks code up here for every call (nested calls included).
 */
import { type AbiType, type StructTable, decode, encodeValues } from '../../contracts/sdk/codec.ts';
import type { AbiMethod, ContractAbi } from '../../tooling/build/contract.ts';
import { latin1 } from '../../vm/state.ts';

export interface DeployedContract {
  name: string;
  address: Uint8Array;
  wasm: Uint8Array;
  abi: ContractAbi;
}

export class ContractError extends Error {
  readonly code: 'CONTRACT_NOT_FOUND' | 'METHOD_NOT_FOUND' | 'BAD_ARGUMENTS';
  constructor(code: ContractError['code'], message: string) {
    super(message);
    this.name = 'ContractError';
    this.code = code;
  }
}

export class ContractRegistry {
  private readonly byAddress = new Map<string, DeployedContract>();
  private readonly byName = new Map<string, DeployedContract>();

  constructor(contracts: Iterable<DeployedContract>) {
    for (const c of contracts) {
      this.byAddress.set(latin1(c.address), c);
      this.byName.set(c.name, c);
    }
  }

  /** For the VM: code at an address. */
  readonly codeOf = (address: Uint8Array): Uint8Array | undefined => this.byAddress.get(latin1(address))?.wasm;

  at(address: Uint8Array): DeployedContract | undefined {
    return this.byAddress.get(latin1(address));
  }

  named(name: string): DeployedContract | undefined {
    return this.byName.get(name);
  }

  /** A contract by name or 0x-address, as users write it. */
  resolve(nameOrAddress: string): DeployedContract {
    const c = this.byName.get(nameOrAddress) ?? (/^(0x)?[0-9a-fA-F]{64}$/.test(nameOrAddress)
      ? this.byAddress.get(latin1(Buffer.from(nameOrAddress.replace(/^0x/, ''), 'hex'))) : undefined);
    if (!c) throw new ContractError('CONTRACT_NOT_FOUND', `no contract ${nameOrAddress} (known: ${[...this.byName.keys()].join(', ')})`);
    return c;
  }

  all(): DeployedContract[] {
    return [...this.byName.values()];
  }
}

export function methodOf(c: DeployedContract, name: string): AbiMethod {
  const m = c.abi.methods.find((x) => x.name === name);
  if (!m) throw new ContractError('METHOD_NOT_FOUND', `${c.name} has no method ${name}`);
  return m;
}

/** Arguments, positional or by name, in the method's ABI encoding. */
export function encodeArgs(c: DeployedContract, method: string, args: readonly unknown[] | Record<string, unknown>): Uint8Array {
  const m = methodOf(c, method);
  const values = Array.isArray(args) ? args : m.params.map((p) => (args as Record<string, unknown>)[p.name]);
  try {
    return encodeValues(m.params.map((p) => p.type), values, c.abi.structs as StructTable, m.params.map((p) => `${method}.${p.name}`));
  } catch (e) {
    throw new ContractError('BAD_ARGUMENTS', (e as Error).message);
  }
}

export function decodeResult(c: DeployedContract, method: string, output: Uint8Array): unknown {
  const m = methodOf(c, method);
  return m.returns === null ? null : decode(m.returns as AbiType, output, c.abi.structs as StructTable);
}
