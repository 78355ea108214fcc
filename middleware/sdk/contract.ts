/**
 * Contracts by their ABI: ContractClient (methods by name) and the runtime proxy
 * `client.contract('evidence')` whose methods are the ABI's. Generated wrappers (codegen.ts) are typed
 * front ends of the same ContractClient, with their build's ABI checked against the node's.
 */
import { type ContractInterface, type DecodedEvent, decodeEvent, methodOf, sameInterface } from './abi.ts';
import { SdkError } from './errors.ts';
import type { BropClient, CallOptions, PendingTx, ResolvedContract, SubmitOptions, TxOptions } from './client.ts';
import type { SignedTransaction, Wallet } from './wallet.ts';
import type { ChainEvent, TxCommitted } from './types.ts';

export interface ContractOptions {
  /** Signs this contract's transactions (default: the client's wallet). */
  wallet?: Wallet;
  /** Default validFor of its transactions. */
  validFor?: number;
  /**
   * The ABI the caller was written against (generated wrappers pass theirs): on first use it is
   * compared with the node's, and a different interface is SDK_ABI_MISMATCH rather than wrongly
   * encoded calls.
   */
  abi?: ContractInterface;
}

type Args = readonly unknown[] | Record<string, unknown>;

export class ContractClient {
  readonly client: BropClient;
  /** The contract as given: a name or a 0x-address. */
  readonly contract: string;
  private readonly options: ContractOptions;
  private resolved: Promise<ResolvedContract> | undefined;

  constructor(client: BropClient, contract: string, options: ContractOptions = {}) {
    this.client = client;
    this.contract = contract;
    this.options = options;
  }

  /** Name, address and ABI from the node (once), checked against the expected ABI if one was given. */
  resolve(): Promise<ResolvedContract> {
    this.resolved ??= this.client.resolveContract(this.contract).then((c) => {
      const expected = this.options.abi;
      if (expected && !sameInterface(expected, c.abi)) {
        throw new SdkError('SDK_ABI_MISMATCH', `the node's ${c.name} (code ${c.abi.codeHash}) has another interface than the one this code was written for: generate its wrapper again`);
      }
      return c;
    });
    this.resolved.catch(() => { this.resolved = undefined; });
    return this.resolved;
  }

  async view(method: string, args: Args = [], options?: CallOptions): Promise<unknown> {
    const c = await this.resolve();
    return this.client.call(c, method, args, options);
  }

  async build(method: string, args: Args, options: TxOptions = {}): Promise<SignedTransaction> {
    const c = await this.resolve();
    return this.client.buildTx(c, method, args, this.txOptions(options));
  }

  async send(method: string, args: Args, options: TxOptions = {}): Promise<PendingTx> {
    return this.client.sendTx(await this.build(method, args, options));
  }

  async submit(method: string, args: Args, options: SubmitOptions = {}): Promise<TxCommitted> {
    this.client.checkWait(options);
    return (await this.send(method, args, options)).wait(options);
  }

  /** This contract's events in a committed transaction's receipt (or a list of events), decoded through its ABI; other contracts' are skipped. */
  async decodeEvents(from: TxCommitted | readonly ChainEvent[]): Promise<DecodedEvent[]> {
    const c = await this.resolve();
    const events = 'receipt' in from ? from.receipt.events : from;
    return events.filter((e) => e.contract.toLowerCase() === c.addressHex.toLowerCase()).map((e) => decodeEvent(c.abi, e));
  }

  /**
   * By the method's kind: a view's result, or a call submitted and waited for. One argument more than
   * the method's parameters is taken as SubmitOptions (the ABI says how many there are).
   */
  async invoke(method: string, args: readonly unknown[]): Promise<unknown> {
    const c = await this.resolve();
    const m = methodOf(c.abi, method);
    const [values, options] = splitOptions(args, m.params.length);
    return m.kind === 'view' ? this.view(method, values, options as CallOptions) : this.submit(method, values, options as SubmitOptions);
  }

  /** invoke's counterpart for `$send`: calls only. */
  async sendByName(method: string, args: readonly unknown[]): Promise<PendingTx> {
    const c = await this.resolve();
    const [values, options] = splitOptions(args, methodOf(c.abi, method).params.length);
    return this.send(method, values, options as TxOptions);
  }

  private txOptions(options: TxOptions): TxOptions {
    return { ...options, wallet: options.wallet ?? this.options.wallet, validFor: options.validFor ?? this.options.validFor };
  }
}

function splitOptions(args: readonly unknown[], params: number): [unknown[], object | undefined] {
  if (args.length === params + 1) {
    const last = args[params];
    if (last !== undefined && (typeof last !== 'object' || last === null)) throw new SdkError('BAD_ARGUMENTS', `expected ${params} arguments and an options object`);
    return [args.slice(0, params), last as object | undefined];
  }
  return [[...args], undefined];
}

/**
 * The runtime proxy's shape: `$` the ContractClient, `$send.method(...)` sends without waiting, and
 * every other property is a method of the contract, `(...args, options?) => Promise<result>`.
 */
export interface ContractProxy {
  readonly $: ContractClient;
  readonly $send: Readonly<Record<string, (...args: any[]) => Promise<PendingTx>>>;
  /** This contract's events in a committed transaction (or a list of events), decoded: `$.decodeEvents`, as generated wrappers have it. */
  readonly $events: (from: TxCommitted | readonly ChainEvent[]) => Promise<DecodedEvent[]>;
  readonly [method: string]: any;
}

/** Names the proxy never treats as contract methods: `await`, JSON and string conversion look them up. */
const NOT_METHODS = new Set(['then', 'catch', 'finally', 'toJSON', 'toString', 'valueOf', 'constructor', 'inspect']);

export function contractProxy(c: ContractClient): ContractProxy {
  const send = new Proxy({}, {
    get: (_t, prop) => (typeof prop === 'string' && !NOT_METHODS.has(prop) ? (...args: unknown[]) => c.sendByName(prop, args) : undefined),
  });
  const events = (from: TxCommitted | readonly ChainEvent[]) => c.decodeEvents(from);
  return new Proxy({ $: c, $send: send, $events: events } as ContractProxy, {
    get: (target, prop) => {
      if (prop === '$' || prop === '$send' || prop === '$events') return target[prop];
      if (typeof prop !== 'string' || NOT_METHODS.has(prop)) return undefined;
      return (...args: unknown[]) => c.invoke(prop, args);
    },
  });
}
