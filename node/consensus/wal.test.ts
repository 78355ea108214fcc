import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConsensusWal } from './wal.ts';
import { TendermintMachine, type ConsensusEvent, type Vote } from './tendermint.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-wal-'));
let n = 0;
const file = () => join(dir, `wal-${n++}.log`);

/** The error code opening `f` gives (undefined: it opens). */
function openError(f: string): string | undefined {
  try {
    ConsensusWal.open(f);
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code ?? `untyped: ${(e as Error).message}`;
  }
}

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

test('a long height keeps 16 of the others\' blocks, and every block of this validator\'s own', () => {
  const f = file();
  const wal = ConsensusWal.open(f);
  wal.recordBlock(5n, 'early', new Uint8Array([98]), true); // its own, made before the others: takes no room from them
  for (let r = 0; r < 20; r++) wal.recordBlock(5n, `other-${r}`, new Uint8Array([r]));
  wal.recordBlock(5n, 'mine', new Uint8Array([99]), true);
  wal.recordBlock(5n, 'mine', new Uint8Array([99]), true); // its re-proposal: kept once
  const again = ConsensusWal.open(f);
  assert.equal(again.blocksAt(5n).map((b) => b[0]), [98, ...Array.from({ length: 16 }, (_, r) => r), 99]);
  // Which blocks were its own survives a restart: the others still get their 16.
  const g = file();
  const w2 = ConsensusWal.open(g);
  w2.recordBlock(6n, 'mine', new Uint8Array([99]), true);
  for (let r = 0; r < 15; r++) w2.recordBlock(6n, `other-${r}`, new Uint8Array([r]));
  const reopened = ConsensusWal.open(g);
  reopened.recordBlock(6n, 'other-15', new Uint8Array([15]));
  assert.is(ConsensusWal.open(g).blocksAt(6n).length, 17);
});

test('a record torn by a crash is cut off; a damaged record with others after it is WAL_CORRUPT', () => {
  const f = file();
  ConsensusWal.open(f).claimVote(vote('A'));
  const intact = readFileSync(f);
  // The next record, cut short at every length a crash could leave (its header included).
  const next = ConsensusWal.open(join(dir, 'scratch.wal'));
  next.claimVote(vote('Z', 9));
  const frame = readFileSync(join(dir, 'scratch.wal')).subarray('brop-wal/2\n'.length);
  for (let cut = 1; cut < frame.length; cut++) {
    writeFileSync(f, Buffer.concat([intact, frame.subarray(0, cut)]));
    const reopened = ConsensusWal.open(f);
    assert.is(reopened.claimVote(vote('B')), undefined, `cut at ${cut}`);
    assert.equal(readFileSync(f).length, intact.length, `the torn record is cut off (cut at ${cut})`);
  }
  // Zeros where a crash extended the file but its data never reached the disk: torn as well.
  writeFileSync(f, Buffer.concat([intact, Buffer.alloc(frame.length + 40)]));
  const zeroed = ConsensusWal.open(f);
  assert.is(zeroed.claimVote(vote('B')), undefined);
  // What is written after a cut is read back: the log stays readable.
  assert.equal(zeroed.claimVote(vote('C', 2)), vote('C', 2));
  const third = ConsensusWal.open(f);
  assert.is(third.claimVote(vote('D', 2)), undefined);
  assert.is(third.claimVote(vote('B')), undefined);
  // A flipped byte in a record that others follow is damage, not a crash: refused.
  const damaged = readFileSync(f);
  damaged[intact.length - 3]! ^= 0xff;
  writeFileSync(f, damaged);
  assert.is(openError(f), 'WAL_CORRUPT');
});

test('damage is told apart from a crash by what follows it: a bad record before a synced one is WAL_CORRUPT, a hole among records never synced is cut off', () => {
  const f = file();
  const wal = ConsensusWal.open(f);
  wal.claimVote(vote('A'));
  wal.claimVote(vote('A', 0, 'precommit'));
  const synced = readFileSync(f);
  // A flipped bit in the first record's length: it now claims more than the file holds. Synced votes follow.
  const flipped = Buffer.from(synced);
  flipped[11 + 3]! ^= 0x40;
  writeFileSync(f, flipped);
  assert.is(openError(f), 'WAL_CORRUPT');
  // A file that is not a log (its header damaged) is not read as an empty one of an earlier version.
  const header = Buffer.from(synced);
  header[10] = 0x20;
  writeFileSync(f, header);
  assert.is(openError(f), 'WAL_CORRUPT');
  // After the last synced record: a block whose first page never reached the disk, then an event that did.
  writeFileSync(f, synced);
  const more = ConsensusWal.open(f);
  more.recordBlock(5n, 'b', new Uint8Array(10_000).fill(7));
  more.record(5n, { kind: 'start', height: 5n });
  more.close();
  const crashed = readFileSync(f);
  crashed.fill(0, synced.length, synced.length + 4096);
  writeFileSync(f, crashed);
  const back = ConsensusWal.open(f);
  assert.is(readFileSync(f).length, synced.length, 'cut off from the hole on');
  assert.is(back.claimVote(vote('B')), undefined, 'the synced votes stand');
  assert.is(back.claimVote(vote('B', 0, 'precommit')), undefined);
  // A record whose checksum holds was written whole: unreadable, it is damage (or a newer version's), not a tear.
  const g = file();
  ConsensusWal.open(g).claimVote(vote('A'));
  const body = Buffer.from([9, ...Buffer.from('{}')]);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(body.length, 0);
  head.writeUInt32LE(crc32(body), 4);
  writeFileSync(g, Buffer.concat([readFileSync(g), head, body]));
  assert.is(openError(g), 'WAL_CORRUPT');
});

test('a write that fails part-way (the file size limit here, a full disk in the field) gives no signature and leaves the log readable', () => {
  const f = file();
  ConsensusWal.open(f).claimVote(vote('A'));
  const before = readFileSync(f).length;
  const script = join(dir, 'short-write.ts');
  writeFileSync(script, `
    import { ConsensusWal } from ${JSON.stringify(new URL('./wal.ts', import.meta.url).pathname)};
    const wal = ConsensusWal.open(${JSON.stringify(f)});
    try {
      wal.recordBlock(5n, 'big', new Uint8Array(8192).fill(1));
      console.log('written');
    } catch (e) {
      console.log('refused', e.code);
    }
  `);
  // RLIMIT_FSIZE 4 KiB: the block's frame cannot be written whole.
  const out = execFileSync('prlimit', [`--fsize=${4096}`, process.execPath, script], { encoding: 'utf8' });
  assert.match(out, /refused/);
  assert.is(readFileSync(f).length, before, 'the part written was cut off again');
  const again = ConsensusWal.open(f);
  assert.equal(again.blocksAt(5n), []);
  assert.is(again.claimVote(vote('B')), undefined, 'the synced vote stands');
});

test('a log in the earlier JSON-lines form is read and rewritten as frames (a torn last line cut off, a corrupt line refused)', () => {
  const f = file();
  const block = new Uint8Array([1, 2, 3, 250]);
  writeFileSync(f, [
    '{"sign":"vote","height":"5","round":0,"type":"prevote","block":"A"}',
    `{"height":"5","id":"b1","block":"${Buffer.from(block).toString('base64')}"}`,
    '{"height":"5","precommit":{"round":0,"block":"A","validator":"v1","publicKey":"09","signature":"0807"}}',
    '{"height":"5","event":{"kind":"start","height":"5n"}}',
    '{"sign":"vote","height":"5","rou',
  ].join('\n'));
  const wal = ConsensusWal.open(f);
  assert.is(wal.claimVote(vote('B')), undefined);
  assert.equal(wal.blocksAt(5n).map((b) => [...b]), [[...block]]);
  assert.equal(wal.precommitsAt(5n).map((p) => [p.validator, [...p.signature]]), [['v1', [8, 7]]]);
  assert.equal(wal.eventsAt(5n), [{ kind: 'start', height: 5n }]);
  assert.ok(readFileSync(f).subarray(0, 11).equals(Buffer.from('brop-wal/2\n')), 'rewritten in the current form');
  const again = ConsensusWal.open(f);
  assert.is(again.claimVote(vote('B')), undefined);
  assert.equal(again.blocksAt(5n).map((b) => [...b]), [[...block]]);
  const g = file();
  writeFileSync(g, '{"height":"5","event":{"kind":"start","height":"5n"}}\ngarbage\n{"height":"5","event":{"kind":"start","height":"5n"}}\n');
  assert.is(openError(g), 'WAL_CORRUPT');
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
  const bytes = readFileSync(f);
  const sizeBefore = bytes.length;
  again.startHeight(7n);
  assert.ok(readFileSync(f).length < sizeBefore, 'the rewrite drops them from the file');
  assert.equal(ConsensusWal.open(f).eventsAt(6n), []);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
