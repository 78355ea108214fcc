/**
 * Proof bundles built from a real chain (four validators, one added and one removed by governance)
 * verify offline against the genesis file alone; each check fails with its own code; and changing any
 * field, any structure, any order or any byte of a real bundle makes verification fail.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accountAddress } from '../../contracts/system/index.ts';
import { newKeyPair } from '../../node/keys/key-file.ts';
import { NODE_CRYPTO } from '../../node/chain/commit.ts';
import { buildBundle } from './build.ts';
import { bundleText, readBundleText } from './bundle.ts';
import { ProofError } from './errors.ts';
import type { Json } from './json.ts';
import type { RecordParams } from './records.ts';
import { startWorld } from './testing.ts';
import { type Trust, trustFromGenesis, verifyBundle, verifyDocument } from './verify.ts';

const w = await startWorld('brop-verify-test');
const { chain } = w;
const trust = trustFromGenesis(chain.genesis);
const addr = (k: { publicKey: Uint8Array }) => accountAddress(k.publicKey);
await chain.tx(w.custodian, 'voucher', 'commitHoldings', [w.voucher, new Uint8Array(32).fill(9), 600n, 4n]);
await chain.produce();

const kinds: RecordParams[] = [
  { kind: 'evidence', key: w.evidenceKey },
  { kind: 'identity-account', address: addr(w.user) },
  { kind: 'identity-certification', account: addr(w.user), partner: addr(w.partner) },
  { kind: 'voucher-balance', voucher: w.voucher, holder: addr(w.user) },
  { kind: 'voucher-item', voucher: w.ticket, item: 'A-1' },
  { kind: 'holdings-commitment', voucher: w.voucher, custodian: addr(w.custodian) },
];
const built = new Map<string, string>();
for (const p of kinds) built.set(p.kind, (await buildBundle(chain.client, p, { trust })).text);
const evidence = built.get('evidence')!, holdings = built.get('holdings-commitment')!;

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof ProofError) return e.code;
    throw e;
  }
  return 'VERIFIED';
}

const edit = (text: string, f: (b: any) => void): string => {
  const b = JSON.parse(text);
  f(b);
  return `${JSON.stringify(b, null, 2)}\n`;
};

test('every kind verifies against the genesis file, through both validator-set changes', () => {
  for (const p of kinds) {
    const v = verifyBundle(built.get(p.kind)!, { trust });
    assert.is(v.kind, p.kind);
    assert.is(v.trust, 'given');
    assert.is(v.records[0]!.exists, true, p.kind);
    assert.equal(v.setChanges.map((c) => c.lastHeight), w.setChanges);
    assert.equal(v.setChanges.map((c) => c.validators), [5, 4]);
    assert.equal(v.signed, { signers: 3, of: 4 }, 'a bundle keeps exactly a quorum');
  }
  const ev = verifyBundle(evidence, { trust });
  assert.is((ev.records[0]!.value as Record<string, string>).key, w.evidenceKey);
  assert.equal(verifyDocument(ev, w.document).field, 'digest');
  assert.is(codeOf(() => verifyDocument(ev, new TextEncoder().encode('another document'))), 'PROOF_DIGEST_MISMATCH');
  const h = verifyBundle(holdings, { trust }).holdings!;
  assert.equal([h.total, h.leafCount, h.custodianBalance], ['600', '4', '1000']);
});

test('the text is canonical; the parsed JSON verifies too; without a genesis the bundle\'s own set is trusted and said so', () => {
  for (const text of built.values()) assert.is(bundleText(readBundleText(text)), text);
  assert.is(verifyBundle(JSON.parse(evidence), { trust }).kind, 'evidence');
  const own = verifyBundle(evidence);
  assert.is(own.trust, 'bundle');
  assert.is(own.genesisValidatorSetHash, verifyBundle(evidence, { trust }).genesisValidatorSetHash);
  assert.is(verifyBundle(evidence, { trust, crypto: NODE_CRYPTO }).block.hash, own.block.hash, 'same answer with node crypto');
});

test('absent records are proven absent', async () => {
  const b = await buildBundle(chain.client, { kind: 'evidence', key: 'no-such-record' }, { trust });
  const v = verifyBundle(b.text, { trust });
  assert.is(v.records[0]!.exists, false);
  assert.is(v.records[0]!.value, null);
  assert.is(codeOf(() => verifyDocument(v, w.document)), 'PROOF_DIGEST_MISMATCH');
  // Claiming a value for an absent record fails the state proof.
  assert.is(codeOf(() => verifyBundle(edit(b.text, (x) => { x.records[0].value = '0x00'; }), { trust })), 'PROOF_STATE');
});

test('each check names itself', async () => {
  const anchor = await chain.client.call<{ commit: { signatures: Array<{ publicKey: string }> } }>('chain_block', { height: JSON.parse(evidence).block.header.height });
  assert.is(anchor.commit.signatures.length, 4);
  const other: Trust = { chainId: trust.chainId, validators: [addr(newKeyPair()), ...trust.validators.slice(1)] };
  const cases: Array<[string, string, () => unknown]> = [
    ['PROOF_CHAIN_ID', 'another chain trusted', () => verifyBundle(evidence, { trust: { ...trust, chainId: 'brop-other' } })],
    ['PROOF_GENESIS', 'another genesis set trusted', () => verifyBundle(evidence, { trust: other })],
    ['PROOF_VALIDATOR_SETS', 'a set change left out', () => verifyBundle(edit(evidence, (b) => b.validatorSets.changes.pop()), { trust })],
    ['PROOF_VALIDATOR_SETS', 'changes out of order', () => verifyBundle(edit(evidence, (b) => b.validatorSets.changes.reverse()), { trust })],
    ['PROOF_VALIDATOR_SETS', 'a change certified by one validator', () => verifyBundle(edit(evidence, (b) => b.validatorSets.changes[0].commit.signatures.splice(1)), { trust })],
    ['PROOF_CERTIFICATE', 'two of four signatures', () => verifyBundle(edit(evidence, (b) => b.block.commit.signatures.splice(2)), { trust })],
    ['PROOF_CERTIFICATE', 'a signature from another block', () => verifyBundle(edit(evidence, (b) => { b.block.commit.signatures[0].signature = b.validatorSets.changes[1].commit.signatures[0].signature; }), { trust })],
    ['PROOF_RECORD', 'another contract', () => verifyBundle(edit(evidence, (b) => { b.records[0].contract = JSON.parse(holdings).records[0].contract; }), { trust })],
    ['PROOF_RECORD', 'a holdings bundle without the balance', () => verifyBundle(edit(holdings, (b) => b.records.pop()), { trust })],
    ['PROOF_STATE', 'a sibling changed', () => verifyBundle(edit(evidence, (b) => { b.records[0].proof.siblings[0] = `0x${'ab'.repeat(32)}`; }), { trust })],
    ['PROOF_VALUE', 'the decoded value edited', () => verifyBundle(edit(evidence, (b) => { b.records[0].decoded.meta = '{"type":"receipt"}'; }), { trust })],
    ['PROOF_MALFORMED', 'a field added', () => verifyBundle(edit(evidence, (b) => { b.note = 'trust me'; }), { trust })],
    ['PROOF_VERSION', 'a newer version', () => verifyBundle(edit(evidence, (b) => { b.version = 2; }), { trust })],
    ['PROOF_NOT_CANONICAL', 'reformatted', () => verifyBundle(JSON.stringify(JSON.parse(evidence)), { trust })],
    ['PROOF_CERTIFICATE', 'a signature repeated', () => verifyBundle(edit(evidence, (b) => b.block.commit.signatures.push(b.block.commit.signatures[0])), { trust })],
    ['PROOF_NOT_CANONICAL', 'the fourth (valid) signature added', () => verifyBundle(edit(evidence, (b) => {
      const have = new Set(b.block.commit.signatures.map((x: { publicKey: string }) => x.publicKey));
      b.block.commit.signatures.push(anchor.commit.signatures.find((x) => !have.has(x.publicKey)));
      b.block.commit.signatures.sort((x: { publicKey: string }, y: { publicKey: string }) => (x.publicKey < y.publicKey ? -1 : 1));
    }), { trust })],
    ['PROOF_NOT_CANONICAL', 'signatures reordered', () => verifyBundle(edit(evidence, (b) => b.block.commit.signatures.reverse()), { trust })],
    ['PROOF_MALFORMED', 'not JSON', () => verifyBundle('{"format":', { trust })],
  ];
  for (const [code, what, f] of cases) assert.is(codeOf(f), code, what);
});

test('chain_validatorSets: every set with its first height and the certified last block of the set before it', async () => {
  const r = await chain.client.call<{ height: number; epochs: Array<{ from: number; validators: string[]; last: { hash: string; header: { height: number; validatorSetHash: string; nextValidatorSetHash: string } } | null }> }>('chain_validatorSets', {});
  assert.equal(r.epochs.map((e) => e.from), [0, ...w.setChanges.map((h) => h + 1)]);
  assert.equal(r.epochs.map((e) => e.validators.length), [4, 5, 4]);
  assert.is(r.epochs[0]!.last, null);
  for (const e of r.epochs.slice(1)) {
    assert.is(e.last!.header.height, e.from - 1);
    assert.is.not(e.last!.header.validatorSetHash, e.last!.header.nextValidatorSetHash);
  }
  // state_proof names the set that signed its header, not the current one.
  const old = await chain.client.call<{ validators: string[] }>('state_proof', { contract: 'evidence', key: '0x00', height: w.setChanges[0]! });
  assert.equal(old.validators, r.epochs[0]!.validators);
  assert.is.not(old.validators.join(), r.epochs[2]!.validators.join());
  const early = await chain.client.call<{ epochs: unknown[] }>('chain_validatorSets', { height: w.setChanges[0]! });
  assert.is(early.epochs.length, 1, 'a set that signs only later blocks is not listed');
  const codes = await Promise.all([{ height: 1e9 }, { height: -1 }].map((p) => chain.client.call('chain_validatorSets', p).then(() => 'ok', (e) => e.code)));
  assert.equal(codes, ['NOT_FOUND', 'RPC_INVALID_PARAMS']);
});

test('a bundle at an earlier height follows only the changes before it', async () => {
  const b = await buildBundle(chain.client, { kind: 'identity-account', address: addr(w.partner) }, { trust, height: w.setChanges[1]! - 1 });
  assert.is(b.verified.setChanges.length, 1);
  assert.is(b.verified.records[0]!.exists, false, 'the partner registered later');
});

/** Every leaf, object and array of a JSON value, by path. */
function nodes(v: Json, path: Array<string | number> = []): Array<{ path: Array<string | number>; value: Json }> {
  const out = [{ path, value: v }];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...nodes(x, [...path, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...nodes(x, [...path, k]));
  return out;
}

function at(root: any, path: Array<string | number>): { parent: any; key: string | number } {
  let parent = root;
  for (const p of path.slice(0, -1)) parent = parent[p];
  return { parent, key: path[path.length - 1]! };
}

/** Changed versions of a leaf: hex with one nibble changed, strings, numbers, booleans, nulls. */
function changed(v: Json): Json[] {
  if (typeof v === 'string') {
    if (/^0x[0-9a-f]*$/.test(v)) {
      if (v.length === 2) return ['0x00'];
      const i = 2 + Math.floor((v.length - 2) / 2);
      return [`${v.slice(0, i)}${v[i] === '0' ? '1' : '0'}${v.slice(i + 1)}`, v.toUpperCase().replace('0X', '0x'), `${v}00`];
    }
    return [`${v}!`, ''];
  }
  if (typeof v === 'number') return [v + 1, String(v)];
  if (typeof v === 'boolean') return [!v];
  if (v === null) return ['0x00'];
  return [];
}

/** Every mutation of a bundle: each leaf changed, each field dropped, a field added to each object, each array shortened, lengthened and reordered. */
function mutations(text: string): Array<{ what: string; value: any }> {
  const base = JSON.parse(text) as Json;
  const out: Array<{ what: string; value: any }> = [];
  const clone = () => structuredClone(base) as any;
  for (const n of nodes(base)) {
    const where = n.path.join('.') || '(root)';
    for (const c of changed(n.value).filter((x) => x !== n.value)) {
      const b = clone(), { parent, key } = at(b, n.path);
      parent[key] = c;
      out.push({ what: `${where} = ${JSON.stringify(c).slice(0, 20)}`, value: b });
    }
    if (n.path.length > 0 && !Array.isArray(at(base, n.path).parent)) {
      const b = clone(), { parent, key } = at(b, n.path);
      delete parent[key];
      out.push({ what: `${where} removed`, value: b });
    }
    if (Array.isArray(n.value)) {
      const arr = () => { const b = clone(); return { b, a: n.path.length ? at(b, n.path).parent[at(b, n.path).key] : b }; };
      { const { b, a } = arr(); a.push(structuredClone(a[0] ?? null)); out.push({ what: `${where} lengthened`, value: b }); }
      if (n.value.length > 0) { const { b, a } = arr(); a.pop(); out.push({ what: `${where} shortened`, value: b }); }
      if (n.value.length > 1 && JSON.stringify(n.value[0]) !== JSON.stringify(n.value[1])) { const { b, a } = arr(); [a[0], a[1]] = [a[1], a[0]]; out.push({ what: `${where} reordered`, value: b }); }
    } else if (n.value !== null && typeof n.value === 'object') {
      const b = clone(), { parent, key } = n.path.length ? at(b, n.path) : { parent: { root: b }, key: 'root' };
      parent[key].extra = 1;
      out.push({ what: `${where} + extra field`, value: b });
    }
  }
  return out;
}

test('tampering: every field changed, dropped or added, every array changed, fails verification (as text and as JSON)', () => {
  for (const text of [evidence, holdings]) {
    const all = mutations(text);
    assert.ok(all.length > 300, `${all.length} mutations`);
    for (const m of all) {
      const asText = `${JSON.stringify(m.value, null, 2)}\n`;
      assert.ok(asText !== text, m.what);
      assert.is.not(codeOf(() => verifyBundle(asText, { trust, crypto: NODE_CRYPTO })), 'VERIFIED', `text: ${m.what}`);
      // Semantics alone (no canonical-text check) catch everything but reordering, which means nothing.
      if (!m.what.endsWith('reordered')) assert.is.not(codeOf(() => verifyBundle(m.value, { trust, crypto: NODE_CRYPTO })), 'VERIFIED', `JSON: ${m.what}`);
    }
  }
});

test('tampering: random bytes of the file changed fail verification', () => {
  // A fixed seed: a failure names a reproducible byte.
  let seed = 0x2545f491;
  const rand = (n: number) => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; };
  for (const text of [evidence, holdings]) {
    const bytes = new TextEncoder().encode(text);
    for (let i = 0; i < 600; i++) {
      const pos = rand(bytes.length), b = bytes.slice();
      b[pos] = (b[pos]! + 1 + rand(255)) & 0xff;
      assert.is.not(codeOf(() => verifyBundle(b, { trust, crypto: NODE_CRYPTO })), 'VERIFIED', `byte ${pos} of ${bytes.length}`);
    }
    // And every single byte, one at a time, to its neighbour value.
    for (let pos = 0; pos < bytes.length; pos += 7) {
      const b = bytes.slice();
      b[pos] = b[pos]! ^ 1;
      assert.is.not(codeOf(() => verifyBundle(b, { trust, crypto: NODE_CRYPTO })), 'VERIFIED', `byte ${pos} flipped`);
    }
  }
});

test.after(() => chain.close());
test.run();
