/**
 * The chain's RPC methods and subscriptions (docs/rpc.md), registered on the transport of node/rpc.
 * Parameters are validated here and refused with RPC_INVALID_PARAMS; chain failures keep their own
 * stable codes (TX_*, BUSY, NODE_BEHIND, CONTRACT_*, NOT_FOUND).
 */
import { RpcError } from './rpc/errors.ts';
import type { RpcServer } from './rpc/server.ts';
import { type ChainNode, type CommittedBlock, NodeError, stateKey } from './node.ts';
import { decodeResult, encodeArgs, methodOf } from './execution/contracts.ts';
import { COMMITTED_TX_LIMITS, SignedTx } from './tx/transaction.ts';
import { TxError } from './tx/errors.ts';
import { fromHex } from './chain/hash.ts';
import { blockTxHashes } from './chain/block.ts';
import { proofToJSON } from './state/index.ts';
import { abiValueJson, commitJson, eventJson, headerJson, hex0x, receiptJson, txJson } from './json.ts';
import { deterministicErrorText } from '../vm/errors.ts';

type Params = Record<string, unknown>;

/** A method's params: an object holding no field but `fields` (a misspelt one must not fall back to a default unnoticed). */
export function obj(params: unknown, fields: readonly string[]): Params {
  // [] too: generic JSON-RPC clients send it for "no params".
  if (params === undefined || params === null || (Array.isArray(params) && params.length === 0)) return {};
  if (typeof params !== 'object' || Array.isArray(params)) throw RpcError.invalidParams('params must be an object');
  for (const k of Object.keys(params)) {
    if (!fields.includes(k)) throw RpcError.invalidParams(`unknown field ${JSON.stringify(k)}: this method takes ${fields.length === 0 ? 'none' : fields.join(', ')}`);
  }
  return params as Params;
}

function bytesParam(p: Params, name: string, length?: number): Uint8Array {
  const v = p[name];
  const b = typeof v === 'string' ? fromHex(v, length) : undefined;
  if (!b) throw RpcError.invalidParams(`${name} must be ${length ? `${length} bytes of ` : ''}0x-hex`);
  return b;
}

function heightParam(p: Params, name: string): bigint | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'string' && /^\d{1,19}$/.test(v)) return BigInt(v);
  throw RpcError.invalidParams(`${name} must be a non-negative integer`);
}

function stringParam(p: Params, name: string, max = 256): string {
  const v = p[name];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw RpcError.invalidParams(`${name} must be a string of 1 to ${max} characters`);
  return v;
}

function blockJson(node: ChainNode, found: NonNullable<ReturnType<ChainNode['block']>>, withTxs: boolean) {
  return {
    hash: hex0x(found.hash),
    header: headerJson(found.block.header),
    commit: commitJson(found.commit),
    lastCommit: commitJson(found.block.lastCommit),
    txCount: found.block.txs.length,
    // Hashes alone need no decoding.
    txs: withTxs
      ? found.block.txs.map((bytes) => { const t = SignedTx.decode(bytes, COMMITTED_TX_LIMITS); return txJson(t.tx, t.hash); })
      : blockTxHashes(found.block).map(hex0x),
    receipts: withTxs ? found.receipts.map(receiptJson) : undefined,
    validators: node.validatorsAt(found.block.header.height).map(hex0x),
  };
}

export interface TxFilter { sender?: string; contract?: string }
/** `eventTopic`, not `topic`: that name is the subscription's own (`subscribe` takes {topic, ...filter}). */
export interface EventFilter { contract?: string; eventTopic?: string }

export function registerChainApi(server: RpcServer, node: ChainNode): void {
  server.method('chain_status', (params) => {
    obj(params, []);
    return {
      chainId: node.params.chainId,
      height: Number(node.height),
      headHash: hex0x(node.head.hash),
      headTime: Number(node.head.header.time),
      stateRoot: hex0x(node.head.header.stateRoot),
      validators: node.validators.map(hex0x),
      validityWindow: node.params.validityWindow,
      blockTimeMs: node.params.blockTimeMs,
      pendingTxs: node.mempool.size,
      behind: node.behind,
    };
  });

  server.method('chain_block', (params) => {
    const p = obj(params, ['height', 'hash', 'full']);
    if (p.full !== undefined && typeof p.full !== 'boolean') throw RpcError.invalidParams('full must be true or false');
    if (p.hash !== undefined && p.height !== undefined) throw RpcError.invalidParams('give height or hash, not both');
    const withTxs = p.full === true;
    if (p.hash !== undefined) {
      const found = node.blockByHash(bytesParam(p, 'hash', 32));
      if (!found) throw new NodeError('NOT_FOUND', `no block with hash ${String(p.hash)}`);
      return blockJson(node, found, withTxs);
    }
    const height = heightParam(p, 'height') ?? node.height;
    const found = node.block(height);
    if (!found) throw new NodeError('NOT_FOUND', `no block at height ${height} (head is ${node.height})`);
    return blockJson(node, found, withTxs);
  });

  const txParam = (params: unknown) => bytesParam(obj(params, ['tx']), 'tx');
  const pending = (stx: SignedTx) => ({ hash: hex0x(stx.hash), status: 'pending', validUntilBlock: Number(stx.validUntilBlock) });
  server.method('tx_send', async (params) => pending(await node.submit(txParam(params))), {
    // A batch's transactions are admitted together (node.submitAll), each judged as alone.
    batch: (paramsList) => {
      const outcomes = new Array<{ result: unknown } | { error: unknown }>(paramsList.length);
      const txs: Uint8Array[] = [], at: number[] = [];
      paramsList.forEach((params, i) => {
        try {
          txs.push(txParam(params));
          at.push(i);
        } catch (error) {
          outcomes[i] = { error };
        }
      });
      // The params (hex strings) are not needed past this point, nor the bytes once submitAll has
      // decoded (copied) them, before its first wait: the closure below would otherwise keep them.
      const admitting = node.submitAll(txs);
      txs.length = 0;
      return admitting.then((admitted) => {
        admitted.forEach((r, k) => { outcomes[at[k]!] = r instanceof SignedTx ? { result: pending(r) } : { error: r }; });
        return outcomes;
      });
    },
  });

  server.method('tx_get', (params) => {
    const p = obj(params, ['hash']);
    const hash = bytesParam(p, 'hash', 32);
    const s = node.txStatus(hash);
    switch (s.status) {
      case 'committed':
        return { hash: hex0x(hash), status: 'committed', height: Number(s.height), index: s.index, blockHash: hex0x(s.blockHash), receipt: receiptJson(s.receipt) };
      case 'pending':
      case 'expired':
        return { hash: hex0x(hash), status: s.status, validUntilBlock: Number(s.validUntilBlock), height: Number(node.height) };
      default:
        // A node still catching up cannot tell "never seen" from "not synced yet".
        if (node.behind) throw new TxError('NODE_BEHIND', `this node is catching up (at height ${node.height}): ask another node or retry later`);
        return { hash: hex0x(hash), status: 'unknown', height: Number(node.height) };
    }
  });

  server.method('contract_abi', (params) => {
    const c = node.contracts.resolve(stringParam(obj(params, ['contract']), 'contract', 66));
    return { name: c.name, address: hex0x(c.address), abi: c.abi };
  });

  server.method('contract_list', (params) => {
    obj(params, []);
    return node.contracts.all().map((c) => ({ name: c.name, address: hex0x(c.address), codeHash: `0x${c.abi.codeHash}` }));
  });

  server.method('contract_call', (params) => {
    const p = obj(params, ['contract', 'method', 'args', 'input', 'caller']);
    if (p.input !== undefined && p.args !== undefined) throw RpcError.invalidParams('give args or input, not both');
    const c = node.contracts.resolve(stringParam(p, 'contract', 66));
    const method = stringParam(p, 'method', 128);
    const m = methodOf(c, method);
    let input: Uint8Array;
    if (p.input !== undefined) input = bytesParam(p, 'input');
    else if (p.args === undefined || Array.isArray(p.args) || (typeof p.args === 'object' && p.args !== null)) input = encodeArgs(c, method, (p.args ?? []) as unknown[]);
    else throw RpcError.invalidParams('args must be an array (positional) or an object (by name)');
    const caller = p.caller === undefined ? undefined : bytesParam(p, 'caller', 32);
    const r = node.call(c.address, method, input, caller);
    return {
      ok: r.ok,
      result: r.ok ? abiValueJson(decodeResult(c, method, r.output)) : null,
      output: hex0x(r.output),
      gasUsed: r.gasUsed,
      error: r.ok ? null : deterministicErrorText(r.error),
      readOnly: m.kind === 'view',
    };
  });

  server.method('state_proof', (params) => {
    const p = obj(params, ['contract', 'key', 'height']);
    const c = node.contracts.resolve(stringParam(p, 'contract', 66));
    const key = bytesParam(p, 'key');
    const height = heightParam(p, 'height') ?? node.height;
    if (height > node.height) throw new NodeError('NOT_FOUND', `height ${height} is above the head ${node.height}`);
    const r = node.stateProof(c.address, key, height);
    return {
      contract: hex0x(c.address), key: hex0x(key), stateKey: hex0x(stateKey(c.address, key)),
      value: r.value === null ? null : hex0x(r.value), proof: proofToJSON(r.proof),
      height: Number(height), header: headerJson(r.header), commit: commitJson(r.commit), validators: node.validatorsAt(height).map(hex0x),
    };
  });

  // The validator sets up to a height, each change with the certified last block of the set it
  // replaced: what a light client or a proof bundle (middleware/proofs) needs to follow the sets
  // from genesis without fetching every header.
  server.method('chain_validatorSets', (params) => {
    const p = obj(params, ['height']);
    const height = heightParam(p, 'height') ?? node.height;
    if (height > node.height) throw new NodeError('NOT_FOUND', `height ${height} is above the head ${node.height}`);
    const governance = node.contracts.resolve('governance');
    const r = node.call(governance.address, 'validatorEpochs', new Uint8Array(0));
    if (!r.ok) throw new Error(`governance.validatorEpochs failed: ${deterministicErrorText(r.error)}`);
    const epochs = decodeResult(governance, 'validatorEpochs', r.output) as Array<{ from: bigint; validators: Uint8Array[] }>;
    return {
      height: Number(height),
      epochs: epochs.filter((e) => e.from <= height).map((e) => {
        const last = e.from === 0n ? undefined : node.block(e.from - 1n);
        if (e.from !== 0n && !last) throw new NodeError('NOT_FOUND', `no block at height ${e.from - 1n}`);
        return {
          from: Number(e.from), validators: e.validators.map(hex0x),
          last: last ? { hash: hex0x(last.hash), header: headerJson(last.block.header), commit: commitJson(last.commit) } : null,
        };
      }),
    };
  });

  // Subscriptions: blocks, committed transactions, contract events. Each event carries its cursor.
  server.topic('blocks');
  server.topic<TxFilter>('txs', (f) => {
    onlyFields(f, ['sender', 'contract']);
    return { sender: optionalHex(f, 'sender'), contract: optionalContract(node, f) };
  });
  server.topic<EventFilter>('events', (f) => {
    onlyFields(f, ['contract', 'eventTopic']);
    if (f.eventTopic !== undefined && typeof f.eventTopic !== 'string') throw RpcError.invalidParams('eventTopic must be a string');
    return { contract: optionalContract(node, f), eventTopic: f.eventTopic as string | undefined };
  });

  node.on('block', (b: CommittedBlock) => {
    if (server.hasSubscribers('blocks')) server.publish('blocks', { hash: hex0x(b.hash), header: headerJson(b.header), txCount: b.txs.length });
    const txs = server.hasSubscribers('txs'), events = server.hasSubscribers('events');
    if (!txs && !events) return;
    b.txs.forEach((t, i) => {
      const sender = hex0x(t.sender), contract = hex0x(t.contract);
      if (txs) server.publish<TxFilter>('txs', { hash: hex0x(t.hash), height: Number(b.header.height), index: i, sender, contract, method: t.method, receipt: receiptJson(b.receipts[i]!) },
        (f) => (f.sender === undefined || f.sender === sender) && (f.contract === undefined || f.contract === contract));
      if (events) b.receipts[i]!.events.forEach((e, j) => {
        const ev = eventJson(e);
        server.publish<EventFilter>('events', { cursor: { height: Number(b.header.height), tx: i, event: j }, txHash: hex0x(t.hash), ...ev },
          (f) => (f.contract === undefined || f.contract === ev.contract) && (f.eventTopic === undefined || ev.topics.includes(f.eventTopic)));
      });
    });
  });
}

function optionalHex(f: Record<string, unknown>, name: string): string | undefined {
  if (f[name] === undefined) return undefined;
  const b = typeof f[name] === 'string' ? fromHex(f[name] as string, 32) : undefined;
  if (!b) throw RpcError.invalidParams(`${name} must be 32 bytes of 0x-hex`);
  return hex0x(b);
}

/** A misspelt filter field would otherwise subscribe to everything, unnoticed. */
function onlyFields(f: Record<string, unknown>, known: readonly string[]): void {
  const unknown = Object.keys(f).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw RpcError.invalidParams(`unknown filter fields: ${unknown.join(', ')} (this topic takes ${known.join(', ')})`);
}

function optionalContract(node: ChainNode, f: Record<string, unknown>): string | undefined {
  if (f.contract === undefined) return undefined;
  if (typeof f.contract !== 'string') throw RpcError.invalidParams('contract must be a name or an address');
  try {
    return hex0x(node.contracts.resolve(f.contract).address);
  } catch (e) {
    throw RpcError.invalidParams((e as Error).message);
  }
}
