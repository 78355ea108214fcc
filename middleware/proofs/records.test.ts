/**
 * The record kinds against the real contracts: their value layouts are the contracts' own structs, and
 * the storage key each kind derives is where the contract keeps the record (a state proof at that key
 * finds a value that decodes to what the contract's own view returns).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { accountAddress, buildSystemContract } from '../../contracts/system/index.ts';
import { toHex } from './json.ts';
import { type RecordParams, KINDS, RECORD_STRUCTS, decodeRecordValue, recordParams, storageKeyOf, systemContractAddress } from './records.ts';
import { ProofError } from './errors.ts';
import { startWorld } from './testing.ts';

const w = await startWorld('brop-records-test');
const { chain } = w;
const addr = (k: { publicKey: Uint8Array }) => accountAddress(k.publicKey);

test('value layouts are the contracts\' structs, field for field', async () => {
  const owners: Record<string, string> = { Evidence: 'evidence', Account: 'identity', Certification: 'identity', Item: 'voucher', HoldingsCommitment: 'voucher' };
  for (const [struct, contract] of Object.entries(owners)) {
    const { abi } = await buildSystemContract(contract as 'evidence');
    assert.equal(RECORD_STRUCTS[struct], (abi.structs as Record<string, unknown>)[struct], struct);
  }
  assert.equal(Object.keys(RECORD_STRUCTS).sort(), Object.keys(owners).sort());
});

test('system contract addresses are genesis\'s', () => {
  for (const c of chain.genesis.contracts) assert.is(toHex(systemContractAddress(c.name)), c.address);
});

async function stored(p: RecordParams, height?: number): Promise<{ value: string | null; decoded: unknown }> {
  const r = await chain.client.call<{ value: string | null }>('state_proof', { contract: KINDS[p.kind].contract, key: toHex(storageKeyOf(p)), height });
  const raw = r.value === null ? null : new Uint8Array(Buffer.from(r.value.slice(2), 'hex'));
  return { value: r.value, decoded: raw === null ? null : decodeRecordValue(p.kind, raw, 'value') };
}

const view = async (contract: string, method: string, args: unknown[]) => (await chain.client.call<{ ok: boolean; result: unknown }>('contract_call', { contract, method, args })).result;

test('record params as a program gives them: bytes as Uint8Array or 0x-hex, voucher ids as bigint, number or decimal; anything else PROOF_MALFORMED naming the field', () => {
  const holder = new Uint8Array(32).fill(7);
  const want = { kind: 'voucher-balance', voucher: 1n, holder };
  assert.equal(recordParams({ kind: 'voucher-balance', voucher: 1n, holder }), want);
  assert.equal(recordParams({ kind: 'voucher-balance', voucher: 1, holder: toHex(holder) }), want);
  assert.equal(recordParams({ kind: 'voucher-balance', voucher: '1', holder }), want);
  const refusal = (v: unknown) => {
    try {
      recordParams(v);
    } catch (e) {
      return e instanceof ProofError ? `${e.code} ${e.path}` : `untyped: ${(e as Error).message}`;
    }
    return 'accepted';
  };
  assert.is(refusal(null), 'PROOF_MALFORMED record');
  assert.is(refusal({ kind: 'nope' }), 'PROOF_MALFORMED record.kind');
  assert.is(refusal({ kind: 'identity-account' }).split(' ')[0], 'PROOF_MALFORMED');
  assert.is(refusal({ kind: 'voucher-balance', voucher: 1.5, holder }), 'PROOF_MALFORMED record.voucher');
  assert.is(refusal({ kind: 'voucher-balance', voucher: -1, holder }), 'PROOF_MALFORMED record.voucher');
  assert.is(refusal({ kind: 'voucher-balance', voucher: 1n, holder: holder.subarray(1) }), 'PROOF_MALFORMED record.holder');
  assert.is(refusal({ kind: 'evidence', key: '' }), 'PROOF_MALFORMED record.key');
  assert.is(refusal({ kind: 'evidence', key: 'k', extra: 1 }).split(' ')[0], 'PROOF_MALFORMED');
});

test('each kind\'s storage key holds the record the contract\'s view returns', async () => {
  await chain.tx(w.custodian, 'voucher', 'commitHoldings', [w.voucher, new Uint8Array(32).fill(7), 900n, 3n]);
  const user = addr(w.user), partner = addr(w.partner), custodian = addr(w.custodian);
  const cases: Array<[RecordParams, string, string, unknown[]]> = [
    [{ kind: 'evidence', key: w.evidenceKey }, 'evidence', 'get', [w.evidenceKey]],
    [{ kind: 'identity-account', address: user }, 'identity', 'getAccount', [toHex(user)]],
    [{ kind: 'voucher-balance', voucher: w.voucher, holder: user }, 'voucher', 'balanceOf', [w.voucher.toString(), toHex(user)]],
    [{ kind: 'voucher-item', voucher: w.ticket, item: 'A-1' }, 'voucher', 'getItem', [w.ticket.toString(), 'A-1']],
    [{ kind: 'holdings-commitment', voucher: w.voucher, custodian }, 'voucher', 'holdingsCommitment', [w.voucher.toString(), toHex(custodian)]],
  ];
  for (const [p, contract, method, args] of cases) {
    const s = await stored(p);
    assert.ok(s.value, `${p.kind} is stored at the derived key`);
    assert.equal(s.decoded, await view(contract, method, args), p.kind);
  }
  // A certification has no single-record view: the list of them holds it.
  const cert = await stored({ kind: 'identity-certification', account: user, partner });
  assert.equal([cert.decoded], await view('identity', 'certifications', [toHex(user)]));
  assert.is((cert.decoded as { identityDigest: string }).identityDigest.length, 66);
});

test('records that do not exist are absent at the derived key (and a wrong key finds nothing)', async () => {
  const user = addr(w.user);
  assert.is((await stored({ kind: 'evidence', key: 'never-registered' })).value, null);
  assert.is((await stored({ kind: 'voucher-item', voucher: w.ticket, item: 'A-2' })).value, null);
  assert.is((await stored({ kind: 'voucher-balance', voucher: w.voucher, holder: addr(w.partner) })).value, null, 'the issuer holds none');
  assert.is((await stored({ kind: 'identity-certification', account: addr(w.partner), partner: user })).value, null);
});

test.after(() => chain.close());
test.run();
