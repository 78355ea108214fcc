/**
 * A node whose validator key has been voted into the set tells the chain, once it has caught up, that
 * it can vote (governance.ready): governance applies the change only then, so a set never gains a
 * member whose node is not running and synced (docs/consensus.md, "Changing the validator set"). Its
 * account is registered in identity first if it is not yet. Repeated while the change waits, since a
 * sign of life counts only while recent.
 */
import { randomBytes } from 'node:crypto';
import { accountAddress, systemAddress } from '../../contracts/system/index.ts';
import { encodeValues } from '../../contracts/sdk/codec.ts';
import { encodeTransaction, signTransactionWith } from '../tx/transaction.ts';
import type { ChainNode } from '../node.ts';
import type { Signer } from '../keys/signer.ts';

const GOVERNANCE = systemAddress('governance');
const IDENTITY = systemAddress('identity');
/** Blocks between announcements while the change waits (well inside governance's 10-block window for `ready`). */
const EVERY_BLOCKS = 4n;
const VALID_FOR = 20n;

export class JoinAnnouncer {
  private readonly node: ChainNode;
  private readonly signer: Signer;
  private readonly address: Uint8Array;
  private readonly log: (event: Record<string, unknown>) => void;
  private lastSent = -1_000_000n;
  private busy = false;

  constructor(node: ChainNode, signer: Signer, log: (event: Record<string, unknown>) => void = () => undefined) {
    this.node = node;
    this.signer = signer;
    this.address = accountAddress(signer.publicKey);
    this.log = log;
  }

  /** Called after every committed block. */
  async onBlock(): Promise<void> {
    const node = this.node;
    if (this.busy || node.behind || node.height < this.lastSent + EVERY_BLOCKS || !this.caughtUp()) return;
    if (!this.view(GOVERNANCE, 'isJoining', encodeValues(['bytes32'], [this.address]))) return;
    this.busy = true;
    try {
      const registered = this.view(IDENTITY, 'isAuthorisedKey', encodeValues(['bytes32', 'bytes32'], [this.address, this.signer.publicKey]));
      // Registration must be committed before the key may sign anything else: `ready` goes in a later round.
      const [contract, method, args] = registered
        ? [GOVERNANCE, 'ready', new Uint8Array(0)]
        : [IDENTITY, 'register', encodeValues(['bytes32', { option: 'string' }], [this.signer.publicKey, null])];
      const tx = signTransactionWith({
        chainId: node.params.chainId, sender: this.address, nonce: randomBytes(8).readBigUInt64BE(),
        validUntilBlock: node.height + VALID_FOR, contract, method, args,
      }, this.signer);
      await node.submit(encodeTransaction(tx));
      this.lastSent = registered ? node.height : node.height - EVERY_BLOCKS + 2n;
      this.log({ event: registered ? 'validator-ready' : 'validator-register', height: Number(node.height) });
    } catch (e) {
      this.log({ event: 'validator-ready-failed', height: Number(node.height), code: (e as { code?: string }).code ?? 'INTERNAL', message: (e as Error).message });
      this.lastSent = node.height;
    } finally {
      this.busy = false;
    }
  }

  /** The head block is recent: this node follows the live chain, not an old part of it. */
  private caughtUp(): boolean {
    const age = Date.now() - Number(this.node.head.header.time);
    return age < Math.max(10_000, 5 * this.node.params.blockTimeMs);
  }

  private view(contract: Uint8Array, method: string, input: Uint8Array): boolean {
    const r = this.node.call(contract, method, input);
    return r.ok && r.output[0] === 1;
  }
}
