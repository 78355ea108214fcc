/**
 * The consensus state machine on a simulated network: message delays and reordering, crashed and
 * Byzantine validators, partitions. Every run checks safety (no two honest validators decide
 * different blocks at a height) and, where the network allows, liveness (heights keep being decided).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TendermintMachine, type ConsensusAction, type ConsensusEvent, type Vote } from './tendermint.ts';

/** A deterministic pseudo-random source, so that a failing schedule reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface SimOptions {
  validators: number;
  heights: number;
  seed: number;
  /** Validators that never run. */
  crashed?: number[];
  /** Validators that send conflicting votes to different halves of the network. */
  equivocating?: number[];
  /** Validators whose proposals are invalid blocks. */
  invalidProposers?: number[];
  /** [from, to) time window during which messages between the two halves are dropped. */
  partition?: [number, number];
  maxDelayMs?: number;
  until?: number;
}

interface Delivery { at: number; to: number; event: ConsensusEvent | { kind: 'gossip' }; seq: number }

/** How often a validator sends its current height's messages again (real networks gossip: lost messages come back). */
const GOSSIP_MS = 400;

function simulate(o: SimOptions) {
  const names = Array.from({ length: o.validators }, (_, i) => `v${i}`);
  const random = rng(o.seed);
  const crashed = new Set(o.crashed ?? []);
  const equivocating = new Set(o.equivocating ?? []);
  const machines = names.map((n) => new TendermintMachine(n, names, { proposeMs: 300, prevoteMs: 100, precommitMs: 100, deltaMs: 100 }));
  const decisions: Array<Map<bigint, string>> = names.map(() => new Map());
  const evidence: Array<{ first: Vote; second: Vote }> = [];
  const valid = new Map<string, boolean>();
  const future: Array<Array<Delivery & { event: ConsensusEvent }>> = names.map(() => []);
  let queue: Delivery[] = [];
  let seq = 0;
  let now = 0;
  const half = (i: number) => (i < o.validators / 2 ? 0 : 1);
  const sent: Array<ConsensusEvent[]> = names.map(() => []);
  const relayed: Array<Set<string>> = names.map(() => new Set());
  /** Decided heights with their certificates: what block sync serves to a validator left behind. */
  const commits = new Map<bigint, { round: number; block: string; precommits: Vote[] }>();
  const send = (from: number, to: number, event: ConsensusEvent | { kind: 'gossip' }, extraDelay = 0) => {
    if (crashed.has(to)) return;
    const at = now + extraDelay + (from === to ? 0 : 1 + Math.floor(random() * (o.maxDelayMs ?? 50)));
    if (o.partition && from !== to && half(from) !== half(to) && at >= o.partition[0] && at < o.partition[1]) return;
    queue.push({ at, to, event, seq: seq++ });
  };
  const broadcast = (from: number, event: (to: number) => ConsensusEvent) => {
    for (let to = 0; to < o.validators; to++) if (to !== from) send(from, to, event(to));
  };
  const act = (i: number, actions: ConsensusAction[]) => {
    for (const a of actions) {
      switch (a.kind) {
        case 'propose': {
          const block = a.block ?? `block-${a.height}-${a.round}-${names[i]}`;
          valid.set(block, !(o.invalidProposers ?? []).includes(i));
          const proposal = { height: a.height, round: a.round, block, validRound: a.validRound, proposer: names[i]! };
          act(i, machines[i]!.handle({ kind: 'proposal', proposal, valid: valid.get(block)! }));
          sent[i]!.push({ kind: 'proposal', proposal, valid: valid.get(block)! });
          broadcast(i, () => ({ kind: 'proposal', proposal, valid: valid.get(block)! }));
          break;
        }
        case 'vote':
          if (equivocating.has(i)) {
            // Half the network hears one vote, the other half another.
            broadcast(i, (to) => ({ kind: 'vote', vote: { ...a.vote, block: half(to) === 0 ? a.vote.block : `forged-${a.vote.height}-${a.vote.round}` } }));
          } else {
            sent[i]!.push({ kind: 'vote', vote: a.vote });
            broadcast(i, () => ({ kind: 'vote', vote: a.vote }));
          }
          break;
        case 'timeout':
          send(i, i, { kind: 'timeout', height: a.height, round: a.round, step: a.step }, a.afterMs);
          break;
        case 'decide':
          assert.ok(a.precommits.length >= machines[i]!.quorum, 'a decision carries a quorum of precommits');
          decisions[i]!.set(a.height, a.block);
          if (!commits.has(a.height)) commits.set(a.height, { round: a.round, block: a.block, precommits: a.precommits });
          if (a.height < BigInt(o.heights)) {
            act(i, machines[i]!.handle({ kind: 'start', height: a.height + 1n }));
            // Messages of the new height that arrived early are replayed now.
            const early = future[i]!.filter((d) => eventHeight(d.event) === a.height + 1n);
            future[i] = future[i]!.filter((d) => eventHeight(d.event) !== a.height + 1n);
            for (const d of early) act(i, machines[i]!.handle(d.event));
          }
          break;
        case 'equivocation':
          evidence.push(a);
          break;
      }
    }
  };
  for (let i = 0; i < o.validators; i++) {
    if (crashed.has(i)) continue;
    act(i, machines[i]!.handle({ kind: 'start', height: 1n }));
    send(i, i, { kind: 'gossip' }, GOSSIP_MS);
  }
  const until = o.until ?? 60_000;
  while (queue.length > 0) {
    queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
    const d = queue.shift()!;
    if (d.at > until) break;
    now = d.at;
    const m = machines[d.to]!;
    if (d.event.kind === 'gossip') {
      for (const e of sent[d.to]!) if (eventHeight(e) === m.height) broadcast(d.to, () => e);
      // Block sync: a validator still at a height the others decided fetches that block and its certificate.
      const c = commits.get(m.height);
      if (c && !decisions[d.to]!.has(m.height)) {
        send(d.to, d.to, { kind: 'commit', height: m.height, round: c.round, block: c.block, precommits: c.precommits });
      }
      sent[d.to] = sent[d.to]!.filter((e) => eventHeight(e)! >= m.height);
      send(d.to, d.to, { kind: 'gossip' }, GOSSIP_MS);
      continue;
    }
    const h = eventHeight(d.event);
    if (h !== undefined && h > m.height) {
      future[d.to]!.push(d as Delivery & { event: ConsensusEvent });
      continue;
    }
    // Gossip (as gossipsub does) forwards a vote on first receipt, and sends it again with the
    // validator's own messages while the height lasts.
    if (d.event.kind === 'vote' && !equivocating.has(d.to)) {
      const v = d.event.vote, k = `${v.type}|${v.height}|${v.round}|${v.validator}|${v.block}`;
      if (!relayed[d.to]!.has(k)) {
        relayed[d.to]!.add(k);
        sent[d.to]!.push(d.event);
        const e = d.event;
        broadcast(d.to, () => e);
      }
    }
    act(d.to, m.handle(d.event));
    if (decisions.every((ds, i) => crashed.has(i) || ds.size >= o.heights)) break;
  }
  return { decisions, evidence, now, honest: names.map((_, i) => i).filter((i) => !crashed.has(i) && !equivocating.has(i)) };
}

function eventHeight(e: ConsensusEvent): bigint | undefined {
  return e.kind === 'proposal' ? e.proposal.height : e.kind === 'vote' ? e.vote.height : e.kind === 'timeout' || e.kind === 'commit' ? e.height : undefined;
}

function assertSafe(r: ReturnType<typeof simulate>): void {
  const byHeight = new Map<bigint, string>();
  for (const i of r.honest) {
    for (const [h, b] of r.decisions[i]!) {
      const seen = byHeight.get(h);
      assert.ok(seen === undefined || seen === b, `fork at height ${h}: ${seen} and ${b}`);
      byHeight.set(h, b);
    }
  }
}

test('quorum sizes: more than 2/3, and f+1', () => {
  assert.equal([1, 2, 3, 4, 7, 10].map((n) => new TendermintMachine('v0', Array.from({ length: n }, (_, i) => `v${i}`)).quorum), [1, 2, 3, 3, 5, 7]);
  assert.is(new TendermintMachine('v0', ['v0', 'v1', 'v2', 'v3']).oneHonest, 2);
});

test('4 validators on a good network decide every height, all the same blocks, proposers rotating', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = simulate({ validators: 4, heights: 10, seed });
    assertSafe(r);
    for (const i of r.honest) assert.is(r.decisions[i]!.size, 10, `seed ${seed}: validator ${i} decided ${r.decisions[i]!.size}`);
    const proposers = new Set([...r.decisions[0]!.values()].map((b) => b.split('-').pop()));
    assert.ok(proposers.size >= 3, `seed ${seed}: proposers ${[...proposers]}`);
  }
});

test('one validator down (f = 1 of 4): blocks keep being decided', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = simulate({ validators: 4, heights: 8, seed, crashed: [seed % 4] });
    assertSafe(r);
    for (const i of r.honest) assert.is(r.decisions[i]!.size, 8, `seed ${seed}`);
  }
});

test('two validators down (2 of 4): nothing is decided, and nothing forks', () => {
  const r = simulate({ validators: 4, heights: 3, seed: 7, crashed: [1, 2], until: 20_000 });
  assertSafe(r);
  for (const i of r.honest) assert.is(r.decisions[i]!.size, 0);
});

test('an equivocating validator cannot cause a fork; its double votes are reported as evidence', () => {
  let withEvidence = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const r = simulate({ validators: 4, heights: 6, seed, equivocating: [seed % 4] });
    assertSafe(r);
    for (const i of r.honest) assert.is(r.decisions[i]!.size, 6, `seed ${seed}`);
    // Gossip forwards both versions of a double vote to honest validators still at that height.
    if (r.evidence.length > 0) withEvidence++;
    assert.ok(r.evidence.every((e) => e.first.validator === `v${seed % 4}` && e.first.block !== e.second.block), 'evidence names only the equivocator');
  }
  assert.is(withEvidence, 20, `evidence in only ${withEvidence} of 20 runs`);
  // Two equivocators of seven (f = 2): still no fork.
  for (let seed = 1; seed <= 10; seed++) assertSafe(simulate({ validators: 7, heights: 4, seed, equivocating: [2, 5] }));
});

test('invalid proposals are voted down; the next round\'s proposer gets the block decided', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = simulate({ validators: 4, heights: 6, seed, invalidProposers: [1] });
    assertSafe(r);
    for (const i of r.honest) {
      assert.is(r.decisions[i]!.size, 6, `seed ${seed}`);
      for (const b of r.decisions[i]!.values()) assert.not.match(b, /-v1$/);
    }
  }
});

test('a 2|2 partition decides nothing while it lasts, and heals', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = simulate({ validators: 4, heights: 5, seed, partition: [0, 5_000] });
    assertSafe(r);
    for (const i of r.honest) assert.is(r.decisions[i]!.size, 5, `seed ${seed}: validator ${i} decided ${r.decisions[i]!.size} after the partition`);
  }
  const during = simulate({ validators: 4, heights: 5, seed: 1, partition: [0, 60_000], until: 50_000 });
  for (const i of during.honest) assert.is(during.decisions[i]!.size, 0);
});

test('slow, reordering networks: safety always; liveness once timeouts have grown past the delays', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const r = simulate({ validators: 4, heights: 4, seed, maxDelayMs: 800, until: 600_000 });
    assertSafe(r);
    for (const i of r.honest) assert.is(r.decisions[i]!.size, 4, `seed ${seed}`);
  }
});

test('votes from outside the validator set and for other heights are ignored; a double vote is evidence', () => {
  const m = new TendermintMachine('v0', ['v0', 'v1', 'v2', 'v3']);
  m.handle({ kind: 'start', height: 1n });
  assert.equal(m.handle({ kind: 'vote', vote: { type: 'prevote', height: 1n, round: 0, block: 'x', validator: 'intruder' } }), []);
  assert.equal(m.handle({ kind: 'vote', vote: { type: 'prevote', height: 9n, round: 0, block: 'x', validator: 'v1' } }), []);
  m.handle({ kind: 'vote', vote: { type: 'prevote', height: 1n, round: 0, block: 'x', validator: 'v1' } });
  const out = m.handle({ kind: 'vote', vote: { type: 'prevote', height: 1n, round: 0, block: 'y', validator: 'v1' } });
  assert.equal(out.map((a) => a.kind), ['equivocation']);
});

test('locking: a validator that precommitted a block does not prevote another unless a later quorum unlocks it', () => {
  const vs = ['v0', 'v1', 'v2', 'v3'];
  const m = new TendermintMachine('v0', vs);
  m.handle({ kind: 'start', height: 1n }); // v1 proposes round 0 at height 1
  m.handle({ kind: 'proposal', proposal: { height: 1n, round: 0, block: 'A', validRound: -1, proposer: 'v1' }, valid: true });
  for (const v of ['v1', 'v2']) m.handle({ kind: 'vote', vote: { type: 'prevote', height: 1n, round: 0, block: 'A', validator: v } });
  assert.is(m.lockedBlock, 'A');
  assert.is(m.lockedRound, 0);
  // Round 1 (v2 proposes) offers B with no proof: v0 stays with A and prevotes nil.
  m.handle({ kind: 'timeout', height: 1n, round: 0, step: 'precommit' });
  const out = m.handle({ kind: 'proposal', proposal: { height: 1n, round: 1, block: 'B', validRound: -1, proposer: 'v2' }, valid: true });
  const prevote = out.find((a) => a.kind === 'vote');
  assert.ok(prevote && prevote.kind === 'vote' && prevote.vote.block === null);
});

test.run();
