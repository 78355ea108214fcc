/**
 * Consensus of a chain with a single validator: it proposes a block every block time and its own
 * precommit is the whole commit certificate (1 of 1 is more than 2/3). The multi-validator BFT
 * protocol drives the same node calls (proposeBlock, commitBlock) from votes instead of a timer.
 */
import { accountAddress } from '../../contracts/system/index.ts';
import { signPrecommit } from '../chain/commit.ts';
import type { ChainNode } from '../node.ts';
import type { Signer } from '../keys/signer.ts';

export class SoloConsensus {
  private readonly node: ChainNode;
  private readonly key: Signer;
  private readonly blockTimeMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private readonly onError: (e: Error) => void;

  constructor(node: ChainNode, key: Signer, opts: { blockTimeMs?: number; onError?: (e: Error) => void } = {}) {
    this.node = node;
    this.key = key;
    this.blockTimeMs = opts.blockTimeMs ?? node.params.blockTimeMs;
    this.onError = opts.onError ?? ((e) => console.error(`block production failed: ${e.message}`));
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const due = Number(this.node.head.header.time) + this.blockTimeMs;
    this.timer = setTimeout(() => {
      this.running = this.produce().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, Math.max(0, due - Date.now()));
  }

  /** Makes and commits one block now. */
  async produce(): Promise<void> {
    try {
      // A block takes at most half a block time to execute: under a flood the node still has the other
      // half to answer RPC and admit transactions (execution blocks the event loop).
      const proposal = this.node.proposeBlock(accountAddress(this.key.publicKey), { budgetMs: Math.max(this.blockTimeMs / 2, 100) });
      const signature = signPrecommit(proposal.header, 0, this.key);
      await this.node.commitBlock(proposal, { height: proposal.header.height, round: 0, blockHash: proposal.hash, signatures: [signature] });
    } catch (e) {
      this.onError(e as Error);
    }
  }

  /** Stops after the block being committed, if any, is stored. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
