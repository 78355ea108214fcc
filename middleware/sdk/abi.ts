/**
 * Contract ABIs on the client: arguments encoded and results decoded here, with the contract codec
 * the node and the contracts use, so values keep their exact types (u64 as bigint, bytes as
 * Uint8Array) instead of going through JSON.
 */
import { type AbiField, type AbiType, type StructTable, decode, decodeValues, encodeValues } from '../../contracts/sdk/codec.ts';
import type { AbiEvent, AbiMethod, ContractAbi } from '../../tooling/build/contract.ts';
import { SdkError } from './errors.ts';
import { fromHex } from './bytes.ts';
import type { ChainEvent } from './types.ts';

export type { AbiEvent, AbiField, AbiMethod, AbiType, ContractAbi };

/** What code written against a contract depends on: its methods, structs and events, not its code hash. */
export type ContractInterface = Pick<ContractAbi, 'name' | 'methods' | 'structs' | 'events'>;

export function methodOf(abi: ContractAbi, method: string): AbiMethod {
  const m = abi.methods.find((x) => x.name === method);
  if (!m) throw new SdkError('METHOD_NOT_FOUND', `${abi.name} has no method ${method} (it has: ${abi.methods.map((x) => x.name).join(', ')})`);
  return m;
}

/** Arguments, positional or by parameter name, in the method's ABI encoding. */
export function encodeArgs(abi: ContractAbi, method: string, args: readonly unknown[] | Record<string, unknown>): Uint8Array {
  const m = methodOf(abi, method);
  const values = Array.isArray(args) ? args : m.params.map((p) => (args as Record<string, unknown>)[p.name]);
  try {
    return encodeValues(m.params.map((p) => p.type), values, abi.structs as StructTable, m.params.map((p) => `${method}.${p.name}`));
  } catch (e) {
    // A field's error names its path (method.param...); one about the arguments as a whole (their count) does not.
    const message = (e as Error).message;
    throw new SdkError('BAD_ARGUMENTS', message.startsWith(`${method}.`) ? `${abi.name}.${message}` : `${abi.name}.${method}: ${message}`);
  }
}

/** A method's return value from its output bytes (null for methods that return nothing). */
export function decodeReturn(abi: ContractAbi, method: string, output: Uint8Array): unknown {
  const m = methodOf(abi, method);
  if (m.returns === null) return null;
  try {
    return decode(m.returns, output, abi.structs as StructTable);
  } catch (e) {
    throw new SdkError('SDK_BAD_RESPONSE', `${abi.name}.${method} returned bytes that do not decode as ${JSON.stringify(m.returns)}: ${(e as Error).message}`);
  }
}

/** A value of one of the ABI's types (a struct by name, e.g. an event's data or a storage entry). */
export function decodeValue(abi: ContractAbi, type: AbiType, bytes: Uint8Array): unknown {
  try {
    return decodeValues([type], bytes, abi.structs as StructTable)[0];
  } catch (e) {
    throw new SdkError('SDK_BAD_RESPONSE', `bytes do not decode as ${JSON.stringify(type)}: ${(e as Error).message}`);
  }
}

/** A contract event with its data decoded through the ABI. */
export interface DecodedEvent<V = unknown> {
  /** The event's name: its topic 0. */
  name: string;
  /** The topics after the name. */
  topics: string[];
  value: V;
  /** The emitting contract's address. */
  contract: string;
}

/** An event of this ABI's contract, decoded by its name (SDK_UNKNOWN_EVENT for a name the ABI does not declare). */
export function decodeEvent(abi: ContractInterface, event: ChainEvent): DecodedEvent {
  const name = event.topics[0] ?? '';
  const declared = abi.events?.find((e) => e.name === name);
  if (!declared) throw new SdkError('SDK_UNKNOWN_EVENT', `${abi.name} declares no event ${JSON.stringify(name)}${abi.events ? '' : ' (its ABI predates event descriptions)'}`);
  let value: unknown;
  try {
    value = decodeValues([declared.data], fromHex(event.data, undefined, 'event data'), abi.structs as StructTable)[0];
  } catch (e) {
    throw new SdkError('SDK_BAD_RESPONSE', `${abi.name} event ${name}: data does not decode as ${JSON.stringify(declared.data)}: ${(e as Error).message}`);
  }
  return { name, topics: event.topics.slice(1), value, contract: event.contract };
}

/** Whether two ABIs describe the same interface: methods, structs and events (in any order), whatever the code hash. */
export function sameInterface(a: ContractInterface, b: ContractInterface): boolean {
  const byName = <T extends { name: string }>(xs: readonly T[]) => [...xs].sort((m, n) => (m.name < n.name ? -1 : m.name > n.name ? 1 : 0));
  const shape = (x: ContractInterface) => canonical([byName(x.methods), x.structs, byName(x.events ?? [])]);
  return shape(a) === shape(b);
}

/** JSON with object keys sorted: equal values, equal text. Array order (struct fields, parameters) is kept: it is the encoding. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
