import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsensusWal } from './wal.ts';
import { TendermintMachine, type ConsensusEvent, type Vote } from './tendermint.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-wal-'));
let n = 0;
const file = () => join(dir, `wal-${n++}.log`);

const vote = (block: string | null, round = 0, type: Vote['type'] = 'prevote'): Vote => ({ type, height: 5n, round, block, validator: 'v0' });

test('a restarted validator never signs a second, different vote for the same height, round and type', () => {
  const f = file();
  const wal = ConsensusWal.open(f);
  assert.equal(wal.claimVote(vote('A')), vote('A'));
  assert.ok(wal.claimProposal(5n, 1, 'P', -1));
  const again = ConsensusWal.open(f); // as after kill -9: the signature records were synced
  assert.is(again.claimVote(vote('B')), undefined);
  assert.is(again.claimVote(vote(null)), undefined);
  assert.equal(again.claimVote(vote('A')), vote('A')); // the same vote may be sent again
  assert.equal(again.claimVote(vote('B', 0, 'precommit')), vote('B', 0, 'precommit')); // another type
  assert.equal(again.claimVote(vote('B', 1)), vote('B', 1)); // another round
  assert.not.ok(again.claimProposal(5n, 1, 'Q', -1));
  assert.not.ok(again.claimProposal(5n, 1, 'P', 0), 'the same block under another validRound is another signed proposal');
  assert.ok(again.claimProposal(5n, 1, 'P', -1));
  assert.equal(again.proposalAt(5n, 1), { block: 'P', validRound: -1 });
});

test('proposed blocks and precommit signatures are kept for their height: back after a restart, dropped when the next height starts', () => {
  const f = file();
  const wal = ConsensusWal.open(f);
  wal.recordBlock(5n, 'a', new Uint8Array([1, 2, 3]));
  wal.recordBlock(5n, 'a', new Uint8Array([1, 2, 3])); // the same block again: kept once
  wal.recordBlock(6n, 'b', new Uint8Array([4]));
  wal.recordPrecommit(5n, { round: 1, block: 'a', validator: 'v1', publicKey: new Uint8Array([9]), signature: new Uint8Array([8, 7]) });
  const again = ConsensusWal.open(f);
  assert.equal(again.blocksAt(5n).map((b) => [...b]), [[1, 2, 3]]);
  assert.equal(again.precommitsAt(5n).map((p) => [p.round, p.block, p.validator, [...p.publicKey], [...p.signature]]), [[1, 'a', 'v1', [9], [8, 7]]]);
  assert.equal(again.blocksAt(6n).map((b) => [...b]), [[4]]);
  again.startHeight(6n);
  const third = ConsensusWal.open(f);
  assert.equal(third.blocksAt(5n), []);
  assert.equal(third.precommitsAt(5n), []);
  assert.equal(third.blocksAt(6n).map((b) => [...b]), [[4]]);
});

test('a line torn by a crash is ignored; a corrupt line elsewhere is WAL_CORRUPT', () => {
  const f = file();
  ConsensusWal.open(f).claimVote(vote('A'));
  appendFileSync(f, '{"sign":"vote","height":"5","rou');
  const reopened = ConsensusWal.open(f);
  assert.is(reopened.claimVote(vote('B')), undefined);
  // The torn line was cut off: what is written next is a line of its own, and the log stays readable.
  assert.equal(reopened.claimVote(vote('C', 2)), vote('C', 2));
  const third = ConsensusWal.open(f);
  assert.is(third.claimVote(vote('D', 2)), undefined);
  assert.is(third.claimVote(vote('B')), undefined);
  const g = file();
  writeFileSync(g, 'garbage\n{"height":"5","event":{"kind":"start","height":"5n"}}\n');
  try {
    ConsensusWal.open(g);
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code?: string }).code, 'WAL_CORRUPT');
  }
});

test('replaying the recorded events gives back the same round, step and lock', () => {
  const vs = ['v0', 'v1', 'v2', 'v3'];
  const f = file();
  const wal = ConsensusWal.open(f);
  const m = new TendermintMachine('v0', vs);
  const events: ConsensusEvent[] = [
    { kind: 'start', height: 1n },
    { kind: 'proposal', proposal: { height: 1n, round: 0, block: 'A', validRound: -1, proposer: 'v1' }, valid: true },
    { kind: 'vote', vote: { type: 'prevote', height: 1n, round: 0, block: 'A', validator: 'v1' } },
    { kind: 'vote', vote: { type: 'prevote', height: 1n, round: 0, block: 'A', validator: 'v2' } },
    { kind: 'timeout', height: 1n, round: 0, step: 'precommit' },
  ];
  for (const e of events) {
    wal.record(1n, e);
    m.handle(e);
  }
  const restarted = new TendermintMachine('v0', vs);
  for (const e of ConsensusWal.open(f).eventsAt(1n)) restarted.handle(e);
  assert.equal([restarted.height, restarted.round, restarted.step, restarted.lockedBlock, restarted.lockedRound], [m.height, m.round, m.step, m.lockedBlock, m.lockedRound]);
  assert.equal([m.lockedBlock, m.lockedRound, m.round], ['A', 0, 1]);
});

test('starting a height drops the earlier ones\' records, keeping the file valid', () => {
  const f = file();
  const wal = ConsensusWal.open(f);
  wal.claimVote(vote('A'));
  wal.record(5n, { kind: 'start', height: 5n });
  wal.startHeight(6n);
  wal.record(6n, { kind: 'start', height: 6n });
  const again = ConsensusWal.open(f);
  assert.equal(again.eventsAt(5n), []);
  assert.equal(again.eventsAt(6n), [{ kind: 'start', height: 6n }]);
  assert.equal(again.claimVote(vote('B')), vote('B')); // height 5's record is gone: nothing left to protect
  assert.is(readFileSync(f, 'utf8').split('\n').filter(Boolean).length, 2);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
