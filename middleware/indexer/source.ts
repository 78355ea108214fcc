/**
 * Where committed blocks come from: a node in the same process, or one over RPC (HTTP for blocks, a
 * WebSocket subscription to `blocks` as the signal that a new one is there, polling when it is not).
 * Either gives ChainBlocks with events decoded through the contracts' ABIs.
 */
import { decode, type AbiType, type StructTable } from '../../contracts/sdk/codec.ts';
import type { ContractAbi } from '../../tooling/build/contract.ts';
import { RpcClient, RpcWsClient } from '../../node/rpc/client.ts';
import { abiValueJson, hex0x, topicText } from '../../node/json.ts';
import type { ChainNode, CommittedBlock } from '../../node/node.ts';
import type { BlockHeader, Receipt } from '../../node/chain/block.ts';
import { SignedTx, COMMITTED_TX_LIMITS } from '../../node/tx/transaction.ts';
import type { ChainBlock, ChainEvent } from './types.ts';

export interface BlockSource {
  /** The chain's committed height. */
  head(): Promise<number>;
  /** The committed block at `height` (it exists: height <= head()). */
  block(height: number): Promise<ChainBlock>;
  /** `onBlock` is called (with the new head) whenever a block may have been committed. */
  watch(onBlock: (height: number) => void): void;
  close(): Promise<void>;
}

interface KnownContract { name: string; address: string; abi: ContractAbi }

/** Names contracts and decodes their events' data through their ABIs. */
export class EventDecoder {
  private readonly byAddress = new Map<string, KnownContract>();
  constructor(contracts: KnownContract[]) {
    for (const c of contracts) this.byAddress.set(c.address.toLowerCase(), c);
  }

  contractName(address: string): string {
    return this.byAddress.get(address.toLowerCase())?.name ?? address.toLowerCase();
  }

  /** topics: the event name first, as text. Data that does not decode as declared is kept as 0x-hex. */
  event(address: string, topics: string[], data: Uint8Array): ChainEvent {
    const c = this.byAddress.get(address.toLowerCase());
    const name = topics[0] ?? '';
    const declared = c?.abi.events?.find((e) => e.name === name);
    let value: unknown = hex0x(data);
    if (declared) {
      try {
        value = abiValueJson(decode(declared.data as AbiType, data, c!.abi.structs as StructTable));
      } catch {
        // not what the ABI says: keep the bytes
      }
    }
    return { contract: c?.name ?? address.toLowerCase(), name, topics: topics.slice(1), data: value };
  }
}

/** How many just-committed blocks a NodeSource keeps decoded (the indexer normally reads each right after its commit). */
const RECENT_BLOCKS = 16;

/** A node in this process. */
export class NodeSource implements BlockSource {
  private readonly node: ChainNode;
  private readonly decoder: EventDecoder;
  private readonly listeners: Array<() => void> = [];
  /** Blocks as the node committed them (transactions decoded and hashed already), by height. */
  private readonly recent = new Map<number, CommittedBlock>();

  constructor(node: ChainNode) {
    this.node = node;
    this.decoder = new EventDecoder(node.contracts.all().map((c) => ({ name: c.name, address: hex0x(c.address), abi: c.abi })));
    const keep = (b: CommittedBlock) => {
      this.recent.set(Number(b.header.height), b);
      if (this.recent.size > RECENT_BLOCKS) this.recent.delete(this.recent.keys().next().value!);
    };
    node.on('block', keep);
    this.listeners.push(() => this.node.off('block', keep));
  }

  async head(): Promise<number> {
    return Number(this.node.height);
  }

  async block(height: number): Promise<ChainBlock> {
    // A block committed moments ago is taken as the node committed it; older ones are read back from its store.
    const committed = this.recent.get(height);
    this.recent.delete(height);
    const found = committed
      ? { hash: committed.hash, header: committed.header, txs: committed.txs, receipts: committed.receipts }
      : this.stored(height);
    const { header } = found;
    return {
      height, hash: hex0x(found.hash), time: Number(header.time), proposer: hex0x(header.proposer),
      txs: found.txs.map(({ tx, hash }, i) => {
        const r = found.receipts[i]!;
        return {
          hash: hex0x(hash), sender: hex0x(tx.sender), contract: this.decoder.contractName(hex0x(tx.contract)), method: tx.method,
          ok: r.status === 1, error: r.error || null, gasUsed: Number(r.gasUsed),
          events: r.events.map((e) => this.decoder.event(hex0x(e.contract), e.topics.map(topicText), e.data)),
        };
      }),
    };
  }

  private stored(height: number): { hash: Uint8Array; header: BlockHeader; txs: SignedTx[]; receipts: Receipt[] } {
    const found = this.node.block(BigInt(height));
    if (!found) throw new Error(`the node has no block at height ${height}`);
    const txs = found.block.txs.map((bytes) => SignedTx.decode(bytes, COMMITTED_TX_LIMITS));
    return { hash: found.hash, header: found.block.header, txs, receipts: found.receipts };
  }

  watch(onBlock: (height: number) => void): void {
    const l = () => onBlock(Number(this.node.height));
    this.node.on('block', l);
    this.listeners.push(() => this.node.off('block', l));
  }

  async close(): Promise<void> {
    for (const off of this.listeners.splice(0)) off();
  }
}

interface BlockJson {
  hash: string;
  header: { height: number; time: number; proposer: string };
  txs: Array<{ hash: string; sender: string; contract: string; method: string }>;
  receipts: Array<{ status: string; error: string | null; gasUsed: number; events: Array<{ contract: string; topics: string[]; data: string }> }>;
}

/** A node over RPC. */
export class RpcSource implements BlockSource {
  private readonly client: RpcClient;
  private readonly wsUrl: string | undefined;
  private decoder: EventDecoder | undefined;
  private ws: RpcWsClient | undefined;
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  /** `wsUrl`: the node's WebSocket endpoint, for prompt notice of new blocks (else polling only). */
  constructor(url: string, opts: { wsUrl?: string; headers?: Record<string, string> } = {}) {
    this.client = new RpcClient(url, { headers: opts.headers });
    this.wsUrl = opts.wsUrl;
  }

  private async contracts(): Promise<EventDecoder> {
    if (!this.decoder) {
      const list = await this.client.call<Array<{ name: string; address: string }>>('contract_list');
      const known = await Promise.all(list.map(async (c) => ({ name: c.name, address: c.address, abi: (await this.client.call<{ abi: ContractAbi }>('contract_abi', { contract: c.address })).abi })));
      this.decoder = new EventDecoder(known);
    }
    return this.decoder;
  }

  async head(): Promise<number> {
    return (await this.client.call<{ height: number }>('chain_status')).height;
  }

  async block(height: number): Promise<ChainBlock> {
    const decoder = await this.contracts();
    const b = await this.client.call<BlockJson>('chain_block', { height, full: true });
    return {
      height, hash: b.hash, time: b.header.time, proposer: b.header.proposer,
      txs: b.txs.map((tx, i) => {
        const r = b.receipts[i]!;
        return {
          hash: tx.hash, sender: tx.sender, contract: decoder.contractName(tx.contract), method: tx.method,
          ok: r.status === 'ok', error: r.error, gasUsed: r.gasUsed,
          events: r.events.map((e) => decoder.event(e.contract, e.topics, hexBytes(e.data))),
        };
      }),
    };
  }

  watch(onBlock: (height: number) => void): void {
    // Polling is the floor (a lost socket must not leave the index behind); the socket makes it prompt.
    this.poll = setInterval(() => void this.head().then(onBlock, () => undefined), 1000);
    const connect = async (): Promise<void> => {
      if (this.closed || !this.wsUrl) return;
      try {
        const ws = await RpcWsClient.connect(this.wsUrl);
        this.ws = ws;
        await ws.subscribe<{ header: { height: number } }>('blocks', undefined, (b) => onBlock(b.header.height));
        await ws.closed;
      } catch {
        // retried below
      }
      if (!this.closed) setTimeout(() => void connect(), 1000);
    };
    void connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    this.ws?.close();
  }
}

function hexBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.startsWith('0x') ? s.slice(2) : s, 'hex'));
}
