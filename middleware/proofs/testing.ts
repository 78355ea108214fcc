/**
 * Test helper: an in-process chain with several validators and RPC, whose blocks this process signs
 * with every validator's key, and which has gone through real validator-set changes by governance
 * (one validator added, one removed): what proof bundles must follow from genesis. Also the business
 * records the bundle tests prove (evidence, an account and its certification, voucher holdings).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { accountAddress, buildSystemContract, PERM, SYSTEM_CONTRACTS } from '../../contracts/system/index.ts';
import { checkGenesis, makeGenesis, type GenesisFile } from '../../node/genesis.ts';
import { ChainNode } from '../../node/node.ts';
import { RpcServer } from '../../node/rpc/server.ts';
import { RpcClient } from '../../node/rpc/client.ts';
import { registerChainApi } from '../../node/api.ts';
import { newKeyPair, writeKeyFile, type KeyPair } from '../../node/keys/key-file.ts';
import { keyPairSigner } from '../../node/keys/signer.ts';
import { signPrecommit } from '../../node/chain/commit.ts';
import { hex } from '../../node/chain/hash.ts';
import type { Receipt } from '../../node/chain/block.ts';
import { submitCall } from '../../tooling/nodes/in-process.ts';

export const digestOf = (text: string | Uint8Array): Uint8Array => new Uint8Array(createHash('sha256').update(text).digest());

export class TestChain {
  readonly dir: string;
  readonly node: ChainNode;
  readonly server: RpcServer;
  readonly url: string;
  readonly client: RpcClient;
  readonly genesis: GenesisFile;
  readonly genesisPath: string;
  readonly operator: KeyPair;
  /** Every key that is or was a validator, by hex address. */
  readonly validatorKeys = new Map<string, KeyPair>();
  private turn = 0;

  private constructor(o: { dir: string; node: ChainNode; server: RpcServer; url: string; genesis: GenesisFile; genesisPath: string; operator: KeyPair }) {
    this.dir = o.dir;
    this.node = o.node;
    this.server = o.server;
    this.url = o.url;
    this.client = new RpcClient(o.url);
    this.genesis = o.genesis;
    this.genesisPath = o.genesisPath;
    this.operator = o.operator;
  }

  static async start(opts: { chainId: string; validators: number; extraKeys?: KeyPair[] }): Promise<TestChain> {
    const dir = mkdtempSync(join(tmpdir(), 'brop-proofs-'));
    const built = new Map<string, Awaited<ReturnType<typeof buildSystemContract>>>();
    for (const name of SYSTEM_CONTRACTS) built.set(name, await buildSystemContract(name));
    const operator = newKeyPair();
    const validators = Array.from({ length: opts.validators }, () => newKeyPair());
    const genesis = makeGenesis({
      chainId: opts.chainId, operator: { name: 'operator', publicKey: operator.publicKey },
      validators: validators.map((k, i) => ({ name: `validator-${i + 1}`, publicKey: k.publicKey })),
      accounts: (opts.extraKeys ?? []).map((k, i) => ({ name: `account-${i + 1}`, publicKey: k.publicKey })),
      contracts: [...built].map(([name, b]) => ({ name, wasm: b.wasm })),
    });
    const genesisPath = join(dir, 'genesis.json');
    writeFileSync(genesisPath, `${JSON.stringify(genesis, null, 2)}\n`);
    const contracts = checkGenesis(genesis, (name) => ({ wasm: built.get(name)!.wasm, abi: built.get(name)!.abi }));
    const node = await ChainNode.open({ dataDir: join(dir, 'data'), genesis, contracts, verifierWorkers: 0 });
    const server = new RpcServer({ port: 0, rateLimit: false });
    registerChainApi(server, node);
    const { url } = await server.listen();
    const chain = new TestChain({ dir, node, server, url, genesis, genesisPath, operator });
    for (const k of validators) chain.validatorKeys.set(hex(accountAddress(k.publicKey)), k);
    return chain;
  }

  addValidatorKey(k: KeyPair): void {
    this.validatorKeys.set(hex(accountAddress(k.publicKey)), k);
  }

  /** Makes one block: the current validators take turns proposing, and all of them sign its certificate. */
  async produce(): Promise<void> {
    const set = this.node.validators;
    const proposer = set[this.turn++ % set.length]!;
    const p = this.node.proposeBlock(proposer);
    const signatures = set.map((a) => {
      const k = this.validatorKeys.get(hex(a));
      if (!k) throw new Error(`no key for validator ${hex(a)}`);
      return signPrecommit(p.header, 0, keyPairSigner(k));
    });
    await this.node.commitBlock(p, { height: p.header.height, round: 0, blockHash: p.hash, signatures });
  }

  private timer: NodeJS.Timeout | undefined;
  private producing: Promise<void> | undefined;

  /** Makes a block every `ms` in the background (for clients that send transactions and wait, like the CLI). */
  startProducing(ms = 50): void {
    this.timer ??= setInterval(() => {
      this.producing ??= this.produce().finally(() => { this.producing = undefined; });
    }, ms);
  }

  async stopProducing(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.producing;
  }

  async produceBlocks(n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.produce();
  }

  /** Signs and submits transactions, makes a block, and returns their receipts (throwing on any failure). */
  async txs(list: Array<[KeyPair, string, string, unknown[]]>): Promise<Receipt[]> {
    const hashes = [];
    for (const call of list) hashes.push((await submitCall(this.node, call)).hash);
    await this.produce();
    return hashes.map((h, i) => {
      const s = this.node.txStatus(h);
      if (s.status !== 'committed') throw new Error(`${list[i]![1]}.${list[i]![2]} is ${s.status}`);
      if (s.receipt.status !== 1) throw new Error(`${list[i]![1]}.${list[i]![2]} failed: ${s.receipt.error}`);
      return s.receipt;
    });
  }

  tx(key: KeyPair, contract: string, method: string, args: unknown[]): Promise<Receipt[]> {
    return this.txs([[key, contract, method, args]]);
  }

  writeKey(name: string, k: KeyPair): string {
    const path = join(this.dir, `${name}.json`);
    writeKeyFile(path, k, { overwrite: true });
    return path;
  }

  async close(): Promise<void> {
    await this.stopProducing();
    await this.server.close();
    await this.node.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface World {
  chain: TestChain;
  partner: KeyPair;
  user: KeyPair;
  custodian: KeyPair;
  evidenceKey: string;
  document: Uint8Array;
  voucher: bigint;
  ticket: bigint;
  /** Heights of the last block of each outgoing set, oldest first. */
  setChanges: number[];
}

/**
 * A chain of four validators that adds a fifth and then removes the first (two set changes), with an
 * evidence record, a certified user, a coupon voucher held by the user and by a custodian, and a ticket.
 */
export async function startWorld(chainId = 'brop-proofs-test'): Promise<World> {
  const joiner = newKeyPair(), partner = newKeyPair(), user = newKeyPair(), custodian = newKeyPair();
  const chain = await TestChain.start({ chainId, validators: 4, extraKeys: [joiner] });
  const { node } = chain;
  const validators = [...chain.validatorKeys.values()];
  const zero = new Uint8Array(32);
  await chain.produceBlocks(2);

  // Set change 1: a fifth validator joins once it has said it is ready.
  await chain.tx(validators[0]!, 'governance', 'propose', [1, accountAddress(joiner.publicKey), zero, node.height + 4n, digestOf('add the fifth')]);
  await chain.txs(validators.slice(0, 3).map((k): [KeyPair, string, string, unknown[]] => [k, 'governance', 'vote', [1, true]]));
  chain.addValidatorKey(joiner);
  await chain.tx(joiner, 'governance', 'ready', []);
  const setChanges: number[] = [];
  const waitForChange = async (size: number) => {
    for (let i = 0; node.validators.length !== size; i++) {
      if (i > 20) throw new Error('the validator set did not change');
      await chain.produce();
    }
    setChanges.push(Number(node.height));
    await chain.produceBlocks(2);
  };
  await waitForChange(5);

  // Set change 2: the first validator leaves.
  await chain.tx(validators[1]!, 'governance', 'propose', [2, accountAddress(validators[0]!.publicKey), zero, node.height + 3n, digestOf('remove the first')]);
  await chain.txs([...validators.slice(1), joiner].map((k): [KeyPair, string, string, unknown[]] => [k, 'governance', 'vote', [2, true]]));
  await waitForChange(4);

  // Business records.
  const op = chain.operator;
  await chain.txs([
    [op, 'admission', 'admitPartner', [accountAddress(partner.publicKey), 'Partner Ltd', PERM.all, digestOf('partner agreement')]],
    [partner, 'identity', 'register', [partner.publicKey, null]],
  ]);
  await chain.txs([
    [partner, 'identity', 'createAccount', [user.publicKey, 'alice']],
    [partner, 'identity', 'createAccount', [custodian.publicKey, 'exchange']],
  ]);
  await chain.txs([
    [partner, 'identity', 'certify', [accountAddress(user.publicKey), 4, digestOf('alice identity document'), false]],
    [partner, 'identity', 'certify', [accountAddress(custodian.publicKey), 4, digestOf('exchange identity document'), false]],
  ]);
  const document = new TextEncoder().encode('invoice 42: 1,000 tonnes of grain\n');
  const evidenceKey = 'invoice-42';
  await chain.tx(partner, 'evidence', 'register', [evidenceKey, digestOf(document), '{"type":"invoice"}', null, digestOf('custody://bucket/invoice-42')]);
  await chain.txs([
    [op, 'voucher', 'createVoucher', ['CPN', 'Coffee coupon', 'one coffee', true, 1_000_000n, accountAddress(partner.publicKey)]],
    [op, 'voucher', 'createVoucher', ['TKT', 'Concert ticket', 'seat', false, 100n, accountAddress(partner.publicKey)]],
  ]);
  const voucher = 1n, ticket = 2n;
  await chain.txs([
    [partner, 'voucher', 'issue', [voucher, accountAddress(user.publicKey), 70n]],
    [partner, 'voucher', 'issue', [voucher, accountAddress(custodian.publicKey), 1000n]],
    [partner, 'voucher', 'issueItem', [ticket, accountAddress(user.publicKey), 'A-1', 'row A seat 1']],
  ]);
  await chain.produce();
  return { chain, partner, user, custodian, evidenceKey, document, voucher, ticket, setChanges };
}
