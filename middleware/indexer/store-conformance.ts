/**
 * What every index store must do, as tests run against each implementation (embedded LevelDB and
 * PostgreSQL): blocks applied through the real projection, then every query, page and stream replay
 * checked against what the blocks said.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { project } from './projection.ts';
import { prepareBatch } from './indexer.ts';
import { type ChainBlock, type ChainTx, type IndexStore, type StreamItem, QueryError, BLOCK_SLOT_TX } from './types.ts';

const A = (n: number) => `0x${n.toString(16).padStart(64, '0')}`;
const bare = (a: string) => a.slice(2);
export const PARTNER = A(0xaa), ALICE = A(1), BOB = A(2), CAROL = A(3);

function tx(hash: number, sender: string, contract: string, method: string, events: ChainTx['events'], ok = true): ChainTx {
  return { hash: A(0x1000 + hash), sender, contract, method, ok, error: ok ? null : 'VM_REVERT', gasUsed: 100, events };
}

function evidence(key: string, digest: string, registrant: string, time: number, chain: string | null = null, index = 0) {
  return { name: chain ? 'appended' : 'registered', contract: 'evidence', topics: chain ? [key, chain] : [key, bare(registrant)],
    data: { key, digest, registrant, meta: `{"k":"${key}"}`, timestampToken: null, custody: null, height: '0', time: String(time), chain, index: String(index), prev: null } };
}

/** Five blocks: evidence (single, chained, multi-party), identities and certifications, vouchers and items. */
export function sampleBlocks(): ChainBlock[] {
  const t0 = 1_700_000_000_000;
  const blocks: ChainBlock[] = [
    { height: 0, hash: A(0xb0), time: t0, proposer: A(9), txs: [] },
    { height: 1, hash: A(0xb1), time: t0 + 1000, proposer: A(9), txs: [
      tx(1, PARTNER, 'evidence', 'register', [evidence('contract-001', A(0xd1), PARTNER, t0 + 1000)]),
      tx(2, ALICE, 'identity', 'register', [{ contract: 'identity', name: 'account-created', topics: [bare(ALICE)], data: { id: '7', address: ALICE, name: 'alice', keys: [], registeredBy: ALICE, userPartner: A(0), createdAt: '1', frozen: false, frozenBy: '0' } }]),
      tx(3, BOB, 'identity', 'register', [{ contract: 'identity', name: 'account-created', topics: [bare(BOB)], data: { id: '8', address: BOB, name: 'bob', keys: [], registeredBy: BOB, userPartner: A(0), createdAt: '1', frozen: false, frozenBy: '0' } }]),
      tx(4, BOB, 'evidence', 'register', [], false),
    ] },
    { height: 2, hash: A(0xb2), time: t0 + 2000, proposer: A(9), txs: [
      tx(5, PARTNER, 'evidence', 'register', [evidence('contract-002', A(0xd2), PARTNER, t0 + 2000), evidence('same-digest', A(0xd1), PARTNER, t0 + 2000)]),
      tx(6, PARTNER, 'identity', 'certify', [
        { contract: 'identity', name: 'certified', topics: [bare(ALICE), bare(PARTNER)], data: { partner: PARTNER, level: 2, identityDigest: A(0x1d), vouchesEvidence: true, certifiedAt: '2' } },
        { contract: 'identity', name: 'certified', topics: [bare(BOB), bare(PARTNER)], data: { partner: PARTNER, level: 3, identityDigest: A(0x2d), vouchesEvidence: true, certifiedAt: '2' } },
      ]),
      tx(7, PARTNER, 'voucher', 'create', [{ contract: 'voucher', name: 'voucher-created', topics: ['TEA', bare(PARTNER)], data: { id: '1', symbol: 'TEA', name: 'Tea', product: 'p', divisible: true, cap: '0', supply: '0', issued: '0', issuer: PARTNER, certifiers: [], minLevel: 0, issuanceRestricted: false, frozen: false, transferLimit: '0', limitPeriod: '0', holderCount: '0', transferCount: '0', createdAt: '2' } }]),
      tx(8, PARTNER, 'voucher', 'issue', [{ contract: 'voucher', name: 'issued', topics: ['TEA', bare(ALICE)], data: '1000000000000000000000' }]),
    ] },
    { height: 3, hash: A(0xb3), time: t0 + 3000, proposer: A(9), txs: [
      tx(9, ALICE, 'voucher', 'transfer', [{ contract: 'voucher', name: 'transferred', topics: ['TEA', bare(ALICE), bare(BOB)], data: '400000000000000000000' }]),
      tx(10, ALICE, 'voucher', 'transfer', [{ contract: 'voucher', name: 'transferred', topics: ['TEA', bare(ALICE), bare(BOB)], data: '100' }]),
      tx(11, PARTNER, 'evidence', 'append', [evidence('batch-1', A(0xe1), PARTNER, t0 + 3000, 'farm', 0), evidence('batch-2', A(0xe2), PARTNER, t0 + 3000, 'farm', 1)]),
      tx(12, PARTNER, 'evidence', 'propose', [{ contract: 'evidence', name: 'proposed', topics: ['deal'], data: { key: 'deal', digest: A(0xdd), proposer: PARTNER, meta: '', parties: [ALICE, BOB], confirmed: [false, false], status: 1, proposedAt: '3', settledAt: '0', revokedBy: A(0) } }]),
      tx(13, PARTNER, 'voucher', 'issueItem', [{ contract: 'voucher', name: 'item-issued', topics: ['ART', bare(ALICE)], data: { id: 'art-1', owner: ALICE, meta: '', issuedAt: '3', redeemed: false } }]),
    ] },
    { height: 4, hash: A(0xb4), time: t0 + 4000, proposer: A(9), txs: [
      tx(14, BOB, 'evidence', 'confirm', [{ contract: 'evidence', name: 'effective', topics: ['deal'], data: { key: 'deal', digest: A(0xdd), proposer: PARTNER, meta: '', parties: [ALICE, BOB], confirmed: [true, true], status: 2, proposedAt: '3', settledAt: '4', revokedBy: A(0) } }]),
      tx(15, PARTNER, 'identity', 'revokeCertification', [{ contract: 'identity', name: 'certification-revoked', topics: [bare(BOB), bare(PARTNER)], data: PARTNER }]),
      tx(16, ALICE, 'voucher', 'transferItem', [{ contract: 'voucher', name: 'item-transferred', topics: ['ART', bare(ALICE), bare(CAROL)], data: { id: 'art-1', owner: CAROL, meta: '', issuedAt: '3', redeemed: false } }]),
      tx(17, BOB, 'voucher', 'redeem', [{ contract: 'voucher', name: 'redeemed', topics: ['TEA', bare(BOB)], data: '400000000000000000100' }]),
    ] },
  ];
  return blocks;
}

/** Applies blocks the way the indexer does. */
export async function applyBlocks(store: IndexStore, blocks: ChainBlock[]): Promise<void> {
  for (const b of blocks) await store.apply(await prepareBatch(store, b));
}

async function all<T>(fetch: (after?: string) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  do {
    const p = await fetch(after);
    out.push(...p.items);
    after = p.next;
  } while (after !== undefined);
  return out;
}

export function storeConformance(name: string, open: () => Promise<IndexStore>): void {
  const s = suite(`index store (${name})`);
  let store: IndexStore;
  s.before(async () => {
    store = await open();
    await applyBlocks(store, sampleBlocks());
  });
  s.after(async () => store.close());

  s('the indexed height, and blocks apply only in order', async () => {
    assert.is(await store.indexedHeight(), 4);
    const { batch } = project({ height: 9, hash: A(1), time: 1, proposer: A(1), txs: [] });
    try {
      await store.apply({ ...batch, holdings: [] });
      assert.unreachable('a gap was accepted');
    } catch (e) {
      assert.match((e as Error).message, /does not follow/);
    }
  });

  s('evidence: by key, digest, registrant and time range, chain; multi-party status follows', async () => {
    const r = (await store.evidenceByKey('contract-001'))!;
    assert.equal({ key: r.key, digest: r.digest, registrant: r.registrant, status: r.status, height: r.height, txHash: r.txHash }, { key: 'contract-001', digest: A(0xd1), registrant: PARTNER, status: 'registered', height: 1, txHash: A(0x1001) });
    assert.equal((await store.evidence({ digest: A(0xd1) })).items.map((e) => e.key).sort(), ['contract-001', 'same-digest']);
    const t0 = 1_700_000_000_000;
    assert.equal((await store.evidence({ registrant: PARTNER, from: t0 + 2000, to: t0 + 2000 })).items.map((e) => e.key).sort(), ['contract-002', 'same-digest']);
    assert.equal((await store.evidence({ chain: 'farm' })).items.map((e) => [e.key, e.index, e.chain]), [['batch-1', 0, 'farm'], ['batch-2', 1, 'farm']]);
    assert.equal((await store.evidence({ from: t0 + 3000 })).items.map((e) => e.key).sort(), ['batch-1', 'batch-2', 'deal']);
    const deal = (await store.evidenceByKey('deal'))!;
    assert.equal([deal.status, deal.height, deal.parties], ['effective', 4, [ALICE, BOB]]); // as the chain records it: settled in block 4
    assert.is(await store.evidenceByKey('nope'), undefined);
    assert.equal((await store.evidence({ digest: A(0x99) })).items, []);
  });

  s('paging walks every record once, in order, whatever the page size', async () => {
    const everything = await all((after) => store.evidence({ from: 0, limit: 1000, ...(after ? { after } : {}) }));
    assert.is(everything.length, 6);
    for (const limit of [1, 2, 4]) {
      const paged = await all((after) => store.evidence({ from: 0, limit, ...(after ? { after } : {}) }));
      assert.equal(paged.map((e) => e.key), everything.map((e) => e.key));
    }
    try {
      await store.evidence({ digest: A(0xd1), after: (await store.evidence({ chain: 'farm', limit: 1 })).next! });
      assert.unreachable('a cursor of another query was accepted');
    } catch (e) {
      assert.instance(e, QueryError);
      assert.is((e as QueryError).code, 'BAD_CURSOR');
    }
  });

  s('identities: by address with certifications, by name, by partner and level; revocations drop out', async () => {
    const alice = (await store.identity(ALICE))!;
    assert.is(alice.name, 'alice');
    assert.equal(alice.certifications.map((c) => [c.partner, c.level, c.revoked]), [[PARTNER, 2, false]]);
    assert.equal((await store.identities({ name: 'bob' })).items.map((i) => i.address), [BOB]);
    assert.equal((await store.identities({ partner: PARTNER })).items.map((i) => [i.address, i.level]), [[ALICE, 2]]);
    assert.equal((await store.identities({ partner: PARTNER, level: 3 })).items, []);
    assert.equal((await store.identity(BOB))!.certifications.map((c) => c.revoked), [true]);
  });

  s('vouchers: classes by issuer, balances by holder and by symbol (128-bit), items by owner', async () => {
    assert.equal((await store.vouchers({ issuer: PARTNER })).items.map((v) => v.symbol), ['TEA']);
    assert.equal((await store.holdings({ holder: ALICE })).items, [{ symbol: 'TEA', holder: ALICE, balance: '599999999999999999900' }]);
    assert.equal((await store.holdings({ symbol: 'TEA' })).items, [{ symbol: 'TEA', holder: ALICE, balance: '599999999999999999900' }]); // bob redeemed everything
    assert.is(await store.balance('TEA', BOB), 0n);
    assert.equal((await store.items({ owner: CAROL })).items.map((i) => i.itemId), ['art-1']);
    assert.equal((await store.items({ owner: ALICE })).items, []);
  });

  s('transactions: by hash, by account in chain order (failed ones too)', async () => {
    assert.equal((await store.transactions({ account: BOB })).items.map((t) => [t.height, t.index, t.ok]), [[1, 2, true], [1, 3, false], [4, 0, true], [4, 3, true]]);
    assert.is((await store.transaction(A(0x1009)))!.method, 'transfer');
  });

  s('stream: every item after a cursor, in order, filtered by kind, contract, topic, account', async () => {
    const every: StreamItem[] = [];
    let after = { height: 0, tx: 0, slot: 0 };
    for (;;) {
      const r = await store.stream(after, 3, {});
      every.push(...r.items);
      if (r.items.length === 0) break;
      const [h, t, sl] = r.items[r.items.length - 1]!.cursor.split('.').map(Number) as [number, number, number];
      after = { height: h, tx: t, slot: sl };
    }
    assert.is(every.length, 5 + 17 + 19); // blocks, transactions, events
    assert.equal(every.map((i) => i.cursor), [...every.map((i) => i.cursor)].sort((a, b) => { const x = a.split('.').map(Number), y = b.split('.').map(Number); return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!; }));
    const blocks = (await store.stream({ height: 0, tx: 0, slot: 0 }, 100, { kinds: ['block'] })).items.map((i) => i.kind === 'block' && i.height);
    assert.equal(blocks, [0, 1, 2, 3, 4]);
    const afterBlock2 = (await store.stream({ height: 2, tx: BLOCK_SLOT_TX, slot: 0 }, 100, { kinds: ['tx'] })).items.map((i) => i.kind === 'tx' && i.hash);
    assert.equal(afterBlock2, [9, 10, 11, 12, 13, 14, 15, 16, 17].map((n) => A(0x1000 + n)));
    const tea = (await store.stream({ height: 0, tx: 0, slot: 0 }, 100, { kinds: ['event'], topic: 'TEA' })).items.map((i) => i.kind === 'event' && i.name);
    assert.equal(tea, ['voucher-created', 'issued', 'transferred', 'transferred', 'redeemed']);
    const carol = (await store.stream({ height: 0, tx: 0, slot: 0 }, 100, { account: CAROL })).items.map((i) => i.cursor);
    assert.equal(carol, ['4.2.1']);
    const r = await store.stream({ height: 4, tx: BLOCK_SLOT_TX, slot: 0 }, 100, {});
    assert.equal([r.items, r.exhausted], [[], true]);
  });

  // Last: it adds a block. Names with U+0000 (the LevelDB store's separator) and characters outside the
  // BMP must neither vanish from range scans nor run into their neighbours.
  s('odd names: U+0000 and non-BMP characters in keys, symbols and names', async () => {
    const t = 1_700_000_009_000;
    await applyBlocks(store, [{ height: 5, hash: A(0xb5), time: t, proposer: A(9), txs: [
      tx(20, PARTNER, 'evidence', 'register', [evidence('😀 emoji', A(0xf1), PARTNER, t), evidence('nul\u0000key', A(0xf1), PARTNER, t), evidence('nul', A(0xf1), PARTNER, t)]),
      tx(21, PARTNER, 'voucher', 'issue', [
        { contract: 'voucher', name: 'issued', topics: ['A\u0000B', bare(ALICE)], data: '5' },
        { contract: 'voucher', name: 'issued', topics: ['A', bare(ALICE)], data: '7' },
        { contract: 'voucher', name: 'issued', topics: ['😀', bare(ALICE)], data: '9' },
      ]),
    ] }]);
    assert.equal((await store.evidence({ digest: A(0xf1) })).items.map((e) => e.key).sort(), ['nul', 'nul\u0000key', '😀 emoji']);
    assert.is((await store.evidenceByKey('nul\u0000key'))!.key, 'nul\u0000key');
    assert.equal((await store.holdings({ symbol: 'A' })).items.map((h) => h.balance), ['7']);
    assert.equal((await store.holdings({ symbol: 'A\u0000B' })).items.map((h) => h.balance), ['5']);
    assert.equal((await store.holdings({ holder: ALICE })).items.map((h) => [h.symbol, h.balance]).sort(), [['A', '7'], ['A\u0000B', '5'], ['TEA', '599999999999999999900'], ['😀', '9']].sort());
    assert.is(await store.balance('A\u0000B', ALICE), 5n);
  });

  s.run();
}
