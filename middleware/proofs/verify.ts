/**
 * The offline verifier of proof bundles: pure and browser-safe. Trusting only the genesis validator
 * set of a chain (and its id), it checks, in order: the chain id; the chain of validator-set changes
 * from genesis to the anchoring block (each change certified by the outgoing set, naming the incoming
 * one); the anchoring block's commit certificate; each record's contract and storage key against its
 * kind and params; its state proof against the block's state root; its value's decoding; the bundle
 * kind's own rules (a holdings commitment must be fully reserved); and, for bundle text, that the text
 * is the bundle's canonical one. Any failure is a ProofError naming the check and the place.
 */
import { type CertificateCrypto, CommitError, addressOf, checkCommit, headerHashWith, validatorSetHashWith } from '../../node/chain/certificate.ts';
import type { BlockHeader } from '../../node/chain/encoding.ts';
import { verifyProof } from '../../node/state/proof.ts';
import { type Bundle, checkCanonical, parseBundle, readBundleText } from './bundle.ts';
import { BROWSER_CRYPTO, sha256 } from './crypto.ts';
import { ProofError } from './errors.ts';
import { type Json, array, bad, bytes, equalBytes, sameJson, string, toHex } from './json.ts';
import { type RecordKind, checkRecordValue, contractOf, decodeRecordValue, paramsJson, storageKeyOf } from './records.ts';

/** What the verifier trusts: a chain id and its genesis validator set (addresses). */
export interface Trust {
  chainId: string;
  validators: Uint8Array[];
}

/** The trust a genesis.json gives: its chain id and its validators' addresses (from their public keys). */
export function trustFromGenesis(genesis: unknown, crypto: CertificateCrypto = BROWSER_CRYPTO): Trust {
  const g = genesis as Record<string, unknown>;
  if (typeof g !== 'object' || g === null) bad('genesis', 'a genesis file is a JSON object');
  const chainId = string(g.chainId, 'genesis.chainId', 64);
  const validators = array(g.validators, 'genesis.validators', 1000).map((v, i) => {
    const o = v as Record<string, unknown>;
    return addressOf(crypto, bytes(typeof o === 'object' && o !== null ? o.publicKey : undefined, `genesis.validators[${i}].publicKey`, 32));
  });
  if (validators.length === 0) bad('genesis.validators', 'a genesis file names at least one validator');
  return { chainId, validators };
}

export interface VerifiedRecord {
  kind: RecordKind;
  params: Json;
  contract: { name: string; address: string };
  storageKey: string;
  exists: boolean;
  /** The record's value, decoded (null when absent). */
  value: Json;
}

export interface VerifiedHoldings {
  voucher: string;
  custodian: string;
  root: string;
  total: string;
  leafCount: string;
  committedAt: string;
  /** The custodian's balance at the anchoring block: at least `total`. */
  custodianBalance: string;
}

export interface VerifiedBundle {
  ok: true;
  kind: RecordKind;
  chainId: string;
  /** 'given': checked against the genesis set passed in; 'bundle': only against the bundle's own genesis set. */
  trust: 'given' | 'bundle';
  genesisValidatorSetHash: string;
  block: { height: number; time: number; hash: string; stateRoot: string; validatorSetHash: string };
  /** Validators of the anchoring block's set that signed its certificate. */
  signed: { signers: number; of: number };
  /** Each change of the validator set followed from genesis: the last height of the outgoing set and the size of the incoming one. */
  setChanges: Array<{ lastHeight: number; validators: number }>;
  records: VerifiedRecord[];
  holdings?: VerifiedHoldings;
}

export interface VerifyOptions {
  /** The genesis trust; without it the bundle's own genesis set is used and the result says trust: 'bundle'. */
  trust?: Trust;
  crypto?: CertificateCrypto;
}

function sameSet(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  const key = (l: readonly Uint8Array[]) => l.map(toHex).sort().join(',');
  return a.length === b.length && key(a) === key(b);
}

function distinct(list: readonly Uint8Array[], path: string): void {
  if (new Set(list.map(toHex)).size !== list.length) bad(path, 'a validator is listed twice', 'PROOF_VALIDATOR_SETS');
}

/** The fewest signatures that are more than 2/3 of a set of n. */
export function quorum(n: number): number {
  return Math.floor((2 * n) / 3) + 1;
}

function certify(crypto: CertificateCrypto, c: { header: BlockHeader; commit: Bundle['block']['commit'] }, set: readonly Uint8Array[], code: 'PROOF_CERTIFICATE' | 'PROOF_VALIDATOR_SETS', path: string): void {
  try {
    checkCommit(crypto, c.header, c.commit, set);
  } catch (e) {
    if (e instanceof CommitError) throw new ProofError(code, e.message, path);
    throw e;
  }
  // A bundle's certificates carry exactly a quorum: one more or one fewer is another bundle, refused.
  if (c.commit.signatures.length !== quorum(set.length)) {
    bad(`${path}.signatures`, `a bundle's certificate carries exactly ${quorum(set.length)} of ${set.length} signatures (a quorum), not ${c.commit.signatures.length}`, 'PROOF_NOT_CANONICAL');
  }
}

/** The records each bundle kind holds: the record itself, and for a holdings commitment the custodian's balance too. */
function checkShape(b: Bundle): void {
  const kinds = b.records.map((r) => r.params.kind);
  const want = b.kind === 'holdings-commitment' ? ['holdings-commitment', 'voucher-balance'] : [b.kind];
  if (!sameJson(kinds, want)) bad('records', `a ${b.kind} bundle holds records ${want.join(', ')}, not ${kinds.join(', ') || 'none'}`, 'PROOF_RECORD');
  if (b.kind === 'holdings-commitment') {
    const [c, bal] = b.records.map((r) => r.params) as [Extract<Bundle['records'][0]['params'], { kind: 'holdings-commitment' }>, Extract<Bundle['records'][0]['params'], { kind: 'voucher-balance' }>];
    if (c.voucher !== bal.voucher || !equalBytes(c.custodian, bal.holder)) bad('records[1].params', 'the balance must be the custodian\'s, in the committed voucher', 'PROOF_RECORD');
  }
}

/** Verifies a bundle (its text, bytes, or parsed JSON value); returns what it proves or throws ProofError. */
export function verifyBundle(input: string | Uint8Array | object, opts: VerifyOptions = {}): VerifiedBundle {
  const crypto = opts.crypto ?? BROWSER_CRYPTO;
  const isText = typeof input === 'string' || input instanceof Uint8Array;
  const b = isText ? readBundleText(input) : parseBundle(input);

  // 1. The chain: the bundle's id is the trusted one, and so is every header's.
  const trust = opts.trust ?? { chainId: b.chainId, validators: b.validatorSets.genesis };
  if (b.chainId !== trust.chainId) bad('chainId', `the bundle is for chain ${JSON.stringify(b.chainId)}, not ${JSON.stringify(trust.chainId)}`, 'PROOF_CHAIN_ID');
  const headers: Array<[BlockHeader, string]> = [...b.validatorSets.changes.map((c, i): [BlockHeader, string] => [c.header, `validatorSets.changes[${i}].header`]), [b.block.header, 'block.header']];
  for (const [h, path] of headers) if (h.chainId !== trust.chainId) bad(`${path}.chainId`, `a header of chain ${JSON.stringify(h.chainId)}`, 'PROOF_CHAIN_ID');
  if (!sameSet(b.validatorSets.genesis, trust.validators)) bad('validatorSets.genesis', 'the bundle\'s genesis validator set is not the trusted one', 'PROOF_GENESIS');

  // 2. The validator sets from genesis to the anchoring block, each change certified by the set it replaces.
  let set: Uint8Array[] = trust.validators;
  distinct(set, 'validatorSets.genesis');
  let lastHeight = 0n;
  const setChanges: VerifiedBundle['setChanges'] = [];
  b.validatorSets.changes.forEach((c, i) => {
    const path = `validatorSets.changes[${i}]`;
    if (c.header.height <= lastHeight) bad(`${path}.header.height`, `changes must be in increasing height order after ${lastHeight}`, 'PROOF_VALIDATOR_SETS');
    certify(crypto, c, set, 'PROOF_VALIDATOR_SETS', `${path}.commit`);
    distinct(c.validators, `${path}.validators`);
    const next = validatorSetHashWith(crypto, c.validators);
    if (!equalBytes(next, c.header.nextValidatorSetHash)) bad(`${path}.validators`, 'the incoming set is not the one the header names as next', 'PROOF_VALIDATOR_SETS');
    if (equalBytes(next, c.header.validatorSetHash)) bad(`${path}.header`, 'the header does not change the validator set', 'PROOF_VALIDATOR_SETS');
    set = c.validators;
    lastHeight = c.header.height;
    setChanges.push({ lastHeight: Number(c.header.height), validators: c.validators.length });
  });

  // 3. The anchoring block, signed by the set in force after the last change.
  const header = b.block.header;
  if (header.height <= lastHeight) bad('block.header.height', `the block must come after the last set change (height ${lastHeight})`, 'PROOF_VALIDATOR_SETS');
  if (!equalBytes(validatorSetHashWith(crypto, set), header.validatorSetHash)) {
    bad('block.header.validatorSetHash', 'the block is not signed by the validator set the changes lead to (a change is missing?)', 'PROOF_VALIDATOR_SETS');
  }
  certify(crypto, b.block, set, 'PROOF_CERTIFICATE', 'block.commit');
  if (!equalBytes(b.block.hash, headerHashWith(crypto, header))) bad('block.hash', 'not the header\'s hash', 'PROOF_CERTIFICATE');

  // 4. The records: where they must be, their proofs under the state root, their values.
  checkShape(b);
  const records = b.records.map((r, i): VerifiedRecord => {
    const path = `records[${i}]`;
    const kind = r.params.kind;
    const contract = contractOf(kind);
    if (!equalBytes(r.contract, contract.address)) bad(`${path}.contract`, `a ${kind} record lives in the ${contract.name} contract`, 'PROOF_RECORD');
    if (!equalBytes(r.storageKey, storageKeyOf(r.params))) bad(`${path}.storageKey`, 'not the storage key of the record the params name', 'PROOF_RECORD');
    const stateKey = new Uint8Array(32 + r.storageKey.length);
    stateKey.set(r.contract);
    stateKey.set(r.storageKey, 32);
    let proven: Uint8Array | null;
    try {
      proven = verifyProof(header.stateRoot, stateKey, r.proof);
    } catch (e) {
      throw new ProofError('PROOF_STATE', (e as Error).message, `${path}.proof`);
    }
    if (proven === null ? r.value !== null : r.value === null || !equalBytes(proven, r.value)) {
      bad(`${path}.value`, `the state proof says ${proven === null ? 'absent' : toHex(proven)}`, 'PROOF_STATE');
    }
    const decoded = r.value === null ? null : decodeRecordValue(kind, r.value, `${path}.value`);
    if (!sameJson(decoded, r.decoded)) bad(`${path}.decoded`, 'not what the value decodes to', 'PROOF_VALUE');
    checkRecordValue(r.params, decoded, `${path}.decoded`);
    return { kind, params: paramsJson(r.params), contract: { name: contract.name, address: toHex(contract.address) }, storageKey: toHex(r.storageKey), exists: r.value !== null, value: decoded };
  });

  // 5. A holdings commitment proves full reserve: the custodian held at least the total at this block.
  let holdings: VerifiedHoldings | undefined;
  if (b.kind === 'holdings-commitment') {
    const c = records[0]!.value as Record<string, string> | null;
    if (c === null) bad('records[0].value', 'the custodian has no holdings commitment for this voucher', 'PROOF_RECORD');
    const balance = (records[1]!.value as string | null) ?? '0';
    if (BigInt(balance) < BigInt(c.total!)) bad('records[1].value', `the custodian holds ${balance}, less than the committed total ${c.total}`, 'PROOF_RESERVE');
    const p = records[0]!.params as Record<string, string>;
    holdings = { voucher: p.voucher!, custodian: p.custodian!, root: c.root!, total: c.total!, leafCount: c.leafCount!, committedAt: c.height!, custodianBalance: balance };
  }

  // 6. Text has one spelling: what was read must be exactly what the bundle serialises to.
  if (isText) checkCanonical(b, input);

  return {
    ok: true, kind: b.kind, chainId: b.chainId, trust: opts.trust ? 'given' : 'bundle',
    genesisValidatorSetHash: toHex(validatorSetHashWith(crypto, trust.validators)),
    block: { height: Number(header.height), time: Number(header.time), hash: toHex(b.block.hash), stateRoot: toHex(header.stateRoot), validatorSetHash: toHex(header.validatorSetHash) },
    signed: { signers: b.block.commit.signatures.length, of: set.length },
    setChanges, records, holdings,
  };
}

/** The document digest a record holds (evidence: digest; identity certification: identityDigest), if its kind has one. */
export function documentDigestField(kind: RecordKind): string | undefined {
  return kind === 'evidence' ? 'digest' : kind === 'identity-certification' ? 'identityDigest' : undefined;
}

/** Checks that sha256(file) is the verified record's document digest; PROOF_DIGEST_MISMATCH otherwise. */
export function verifyDocument(v: VerifiedBundle, file: Uint8Array): { field: string; digest: string } {
  const r = v.records[0]!;
  const field = documentDigestField(r.kind);
  if (!field) bad('', `a ${r.kind} record holds no document digest to compare a file with`, 'PROOF_DIGEST_MISMATCH');
  if (r.value === null) bad('records[0].value', 'the record is absent: no digest to compare with', 'PROOF_DIGEST_MISMATCH');
  const want = (r.value as Record<string, string>)[field]!;
  const got = toHex(sha256(file));
  if (got !== want) bad(`records[0].decoded.${field}`, `the file's sha256 is ${got}, the record's ${field} is ${want}`, 'PROOF_DIGEST_MISMATCH');
  return { field, digest: got };
}

