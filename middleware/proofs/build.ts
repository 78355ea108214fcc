/**
 * Building proof bundles from a node over RPC: the state proof of each record at one height
 * (state_proof), and the certified validator-set changes from genesis to it (chain_validatorSets).
 * The builder verifies what it built before handing it out, so a node that answers wrongly is caught
 * here, not by the bundle's recipient. Browser-safe (it needs only an RPC client).
 */
import { headerHashWith } from '../../node/chain/certificate.ts';
import { type StateProof, proofFromJSON } from '../../node/state/proof.ts';
import { BROWSER_CRYPTO } from './crypto.ts';
import { type Bundle, type BundleKind, BUNDLE_VERSION, bundleText, parseCommit, parseHeader } from './bundle.ts';
import { bytes, toHex } from './json.ts';
import { type RecordParams, KINDS, decodeRecordValue, recordParams, storageKeyOf } from './records.ts';
import { type Trust, type VerifiedBundle, quorum, verifyBundle } from './verify.ts';
import { type Commit, compareBytes } from '../../node/chain/encoding.ts';

/** What the builder needs of an RPC client (node/rpc/client.ts RpcClient has it). */
export interface RpcLike {
  call<T = unknown>(method: string, params?: unknown): Promise<T>;
}

interface StateProofAnswer {
  contract: string;
  key: string;
  value: string | null;
  proof: unknown;
  height: number;
  header: unknown;
  commit: unknown;
}

interface ValidatorSetsAnswer {
  height: number;
  epochs: Array<{ from: number; validators: string[]; last: { header: unknown; commit: unknown } | null }>;
}

function minimalCommit(c: Commit, setSize: number): Commit {
  const signatures = [...c.signatures].sort((a, b) => compareBytes(a.publicKey, b.publicKey)).slice(0, quorum(setSize));
  return { ...c, signatures };
}

/** The records a bundle of this kind holds (a holdings commitment comes with the custodian's balance). */
export function bundleRecords(p: RecordParams): RecordParams[] {
  return p.kind === 'holdings-commitment' ? [p, { kind: 'voucher-balance', voucher: p.voucher, holder: p.custodian }] : [p];
}

export interface BuiltBundle {
  bundle: Bundle;
  /** The bundle's canonical text: what to write to a file. */
  text: string;
  verified: VerifiedBundle;
}

/** Builds the bundle for a record at `height` (default: the node's head) and verifies it (against `trust` when given). */
export async function buildBundle(client: RpcLike, params: RecordParams, opts: { height?: number; trust?: Trust } = {}): Promise<BuiltBundle> {
  const wanted = bundleRecords(recordParams(params));
  let height = opts.height;
  const records: Bundle['records'] = [];
  let anchor: StateProofAnswer | undefined;
  for (const p of wanted) {
    const storageKey = storageKeyOf(p);
    const a = await client.call<StateProofAnswer>('state_proof', { contract: KINDS[p.kind].contract, key: toHex(storageKey), ...(height === undefined ? {} : { height }) });
    height = a.height; // every record at the first one's height
    anchor ??= a;
    const value = a.value === null ? null : bytes(a.value, 'state_proof.value');
    const proof: StateProof = proofFromJSON(a.proof);
    records.push({ params: p, contract: bytes(a.contract, 'state_proof.contract', 32), storageKey, value, decoded: value === null ? null : decodeRecordValue(p.kind, value, 'state_proof.value'), proof });
  }
  const sets = await client.call<ValidatorSetsAnswer>('chain_validatorSets', { height });
  const [genesis, ...later] = sets.epochs;
  if (!genesis) throw new Error('chain_validatorSets returned no epochs');
  const header = parseHeader(anchor!.header, 'state_proof.header');
  const bundle: Bundle = {
    version: BUNDLE_VERSION, kind: params.kind as BundleKind, chainId: header.chainId, records,
    block: { hash: headerHashWith(BROWSER_CRYPTO, header), header, commit: parseCommit(anchor!.commit, 'state_proof.commit') },
    validatorSets: {
      genesis: genesis.validators.map((a, i) => bytes(a, `epochs[0].validators[${i}]`, 32)),
      changes: later.map((e, i) => {
        if (!e.last) throw new Error(`chain_validatorSets: epoch ${i + 1} has no transition block`);
        return { header: parseHeader(e.last.header, `epochs[${i + 1}].last.header`), commit: parseCommit(e.last.commit, `epochs[${i + 1}].last.commit`), validators: e.validators.map((a, j) => bytes(a, `epochs[${i + 1}].validators[${j}]`, 32)) };
      }),
    },
  };
  // Certificates keep exactly a quorum, the lowest public keys first (the canonical form, docs/proofs.md).
  let set = bundle.validatorSets.genesis.length;
  for (const c of bundle.validatorSets.changes) {
    c.commit = minimalCommit(c.commit, set);
    set = c.validators.length;
  }
  bundle.block.commit = minimalCommit(bundle.block.commit, set);
  const text = bundleText(bundle);
  return { bundle, text, verified: verifyBundle(text, { trust: opts.trust }) };
}
