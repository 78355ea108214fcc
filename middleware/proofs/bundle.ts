/**
 * The proof bundle format (docs/proofs.md): its types, a strict reader and the one canonical
 * serialisation. A bundle has exactly one text: the verifier re-serialises what it read and refuses
 * any other spelling, so every byte of a bundle file is covered (and its sha256 names it).
 * Browser-safe.
 */
import type { BlockHeader, Commit } from '../../node/chain/encoding.ts';
import { type StateProof, checkProof, proofToJSON } from '../../node/state/proof.ts';
import { ProofError } from './errors.ts';
import { type Json, array, bad, bytes, object, string, toHex, uint, jsonInt } from './json.ts';
import { type RecordKind, type RecordParams, isRecordKind, paramsJson, parseParams } from './records.ts';

export const BUNDLE_FORMAT = 'brop-proof-bundle';
export const BUNDLE_VERSION = 1;

/** What a bundle proves; each kind fixes the records it holds (BUNDLE_RECORDS). */
export type BundleKind = RecordKind;

export interface BundleRecord {
  params: RecordParams;
  /** The contract's address. */
  contract: Uint8Array;
  /** The record's key in the contract's storage (the state key is contract ‖ storageKey). */
  storageKey: Uint8Array;
  /** The stored bytes, null when the record is absent. */
  value: Uint8Array | null;
  /** The value decoded as its kind (null when absent): must be exactly what `value` decodes to. */
  decoded: Json;
  proof: StateProof;
}

export interface CertifiedHeader {
  header: BlockHeader;
  commit: Commit;
}

/** A validator-set change: the last block of the outgoing set, certified by it, and the incoming set. */
export interface SetChange extends CertifiedHeader {
  validators: Uint8Array[];
}

export interface Bundle {
  version: number;
  kind: BundleKind;
  chainId: string;
  records: BundleRecord[];
  /** The anchoring block: its state root holds the records. */
  block: CertifiedHeader & { hash: Uint8Array };
  validatorSets: { genesis: Uint8Array[]; changes: SetChange[] };
}

const MAX_VALIDATORS = 1000;
const MAX_CHANGES = 100_000;

export function headerJson(h: BlockHeader): { [k: string]: Json } {
  return {
    chainId: h.chainId, height: jsonInt(h.height), time: jsonInt(h.time), prevHash: toHex(h.prevHash), txRoot: toHex(h.txRoot),
    stateRoot: toHex(h.stateRoot), receiptsRoot: toHex(h.receiptsRoot), proposer: toHex(h.proposer),
    validatorSetHash: toHex(h.validatorSetHash), nextValidatorSetHash: toHex(h.nextValidatorSetHash), lastCommitHash: toHex(h.lastCommitHash),
  };
}

const sortedHex = (list: readonly Uint8Array[]): string[] => list.map(toHex).sort();

/**
 * A commit as bundles write it: signatures in public-key order. Their order means nothing to the
 * check, so the canonical form fixes it (a reordered certificate is another text, refused).
 */
export function commitJson(c: Commit): { [k: string]: Json } {
  const signatures = c.signatures.map((s) => ({ publicKey: toHex(s.publicKey), signature: toHex(s.signature) })).sort((a, b) => (a.publicKey < b.publicKey ? -1 : a.publicKey > b.publicKey ? 1 : 0));
  return { height: jsonInt(c.height), round: c.round, blockHash: toHex(c.blockHash), signatures };
}

const HEADER_FIELDS = ['chainId', 'height', 'time', 'prevHash', 'txRoot', 'stateRoot', 'receiptsRoot', 'proposer', 'validatorSetHash', 'nextValidatorSetHash', 'lastCommitHash'];

/** A header as RPC (chain_block, state_proof) and bundles write it. */
export function parseHeader(v: unknown, path: string): BlockHeader {
  const o = object(v, path, HEADER_FIELDS);
  const b32 = (f: string) => bytes(o[f], `${path}.${f}`, 32);
  return {
    chainId: string(o.chainId, `${path}.chainId`, 64), height: uint(o.height, `${path}.height`), time: uint(o.time, `${path}.time`),
    prevHash: b32('prevHash'), txRoot: b32('txRoot'), stateRoot: b32('stateRoot'), receiptsRoot: b32('receiptsRoot'), proposer: b32('proposer'),
    validatorSetHash: b32('validatorSetHash'), nextValidatorSetHash: b32('nextValidatorSetHash'), lastCommitHash: b32('lastCommitHash'),
  };
}

export function parseCommit(v: unknown, path: string): Commit {
  const o = object(v, path, ['height', 'round', 'blockHash', 'signatures']);
  const round = uint(o.round, `${path}.round`);
  if (round > 0xffffffffn) bad(`${path}.round`, 'a round is a u32');
  return {
    height: uint(o.height, `${path}.height`), round: Number(round), blockHash: bytes(o.blockHash, `${path}.blockHash`, 32),
    signatures: array(o.signatures, `${path}.signatures`, MAX_VALIDATORS).map((s, i) => {
      const p = `${path}.signatures[${i}]`;
      const so = object(s, p, ['publicKey', 'signature']);
      return { publicKey: bytes(so.publicKey, `${p}.publicKey`), signature: bytes(so.signature, `${p}.signature`) };
    }),
  };
}

function addresses(v: unknown, path: string): Uint8Array[] {
  const list = array(v, path, MAX_VALIDATORS).map((a, i) => bytes(a, `${path}[${i}]`, 32));
  if (list.length === 0) bad(path, 'a validator set is never empty');
  return list;
}

function parseRecord(v: unknown, path: string): BundleRecord & { kind: RecordKind } {
  const o = object(v, path, ['kind', 'params', 'contract', 'storageKey', 'value', 'decoded', 'proof']);
  if (!isRecordKind(o.kind)) bad(`${path}.kind`, `unknown record kind ${JSON.stringify(o.kind)}`);
  // Read strictly here (lowercase hex, no extra fields), then checked for shape by the state module.
  const pp = `${path}.proof`;
  const po = object(o.proof, pp, ['siblings', 'end']);
  const endType = (po.end as { type?: unknown } | null)?.type;
  const end = object(po.end, `${pp}.end`, endType === 'value' ? ['type', 'value'] : endType === 'leaf' ? ['type', 'keyPath', 'valueHash'] : ['type']);
  let proof: StateProof;
  try {
    proof = checkProof({
      siblings: array(po.siblings, `${pp}.siblings`, 256).map((x, i) => (x === null ? null : bytes(x, `${pp}.siblings[${i}]`, 32))),
      end: endType === 'value' ? { type: 'value', value: bytes(end.value, `${pp}.end.value`) }
        : endType === 'leaf' ? { type: 'leaf', keyPath: bytes(end.keyPath, `${pp}.end.keyPath`, 32), valueHash: bytes(end.valueHash, `${pp}.end.valueHash`, 32) }
          : endType === 'empty' ? { type: 'empty' } : bad(`${pp}.end.type`, 'unknown end type'),
    });
  } catch (e) {
    if (e instanceof ProofError) throw e;
    throw new ProofError('PROOF_MALFORMED', `not a state proof: ${(e as Error).message}`, pp);
  }
  return {
    kind: o.kind, params: parseParams(o.kind, o.params, `${path}.params`), contract: bytes(o.contract, `${path}.contract`, 32),
    storageKey: bytes(o.storageKey, `${path}.storageKey`), value: o.value === null ? null : bytes(o.value, `${path}.value`),
    decoded: o.decoded as Json, proof,
  };
}

/** Reads a bundle's JSON value strictly; PROOF_MALFORMED or PROOF_VERSION when it is not one this verifier reads. */
export function parseBundle(v: unknown): Bundle {
  const top = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || top.format !== BUNDLE_FORMAT) bad('format', `not a ${BUNDLE_FORMAT}`);
  if (top.version !== BUNDLE_VERSION) throw new ProofError('PROOF_VERSION', `version ${JSON.stringify(top.version)} is not supported (this verifier reads version ${BUNDLE_VERSION})`, 'version');
  const o = object(v, '', ['format', 'version', 'kind', 'chainId', 'records', 'block', 'validatorSets']);
  if (!isRecordKind(o.kind)) bad('kind', `unknown bundle kind ${JSON.stringify(o.kind)}`);
  const block = object(o.block, 'block', ['hash', 'header', 'commit']);
  const sets = object(o.validatorSets, 'validatorSets', ['genesis', 'changes']);
  const records = array(o.records, 'records', 16).map((r, i) => parseRecord(r, `records[${i}]`));
  return {
    version: BUNDLE_VERSION, kind: o.kind, chainId: string(o.chainId, 'chainId', 64), records,
    block: { hash: bytes(block.hash, 'block.hash', 32), header: parseHeader(block.header, 'block.header'), commit: parseCommit(block.commit, 'block.commit') },
    validatorSets: {
      genesis: addresses(sets.genesis, 'validatorSets.genesis'),
      changes: array(sets.changes, 'validatorSets.changes', MAX_CHANGES).map((c, i) => {
        const p = `validatorSets.changes[${i}]`;
        const co = object(c, p, ['header', 'commit', 'validators']);
        return { header: parseHeader(co.header, `${p}.header`), commit: parseCommit(co.commit, `${p}.commit`), validators: addresses(co.validators, `${p}.validators`) };
      }),
    },
  };
}

/** The bundle as its canonical JSON value (fixed field order, canonical value spellings). */
export function bundleJson(b: Bundle): { [k: string]: Json } {
  return {
    format: BUNDLE_FORMAT,
    version: b.version,
    kind: b.kind,
    chainId: b.chainId,
    records: b.records.map((r) => ({
      kind: r.params.kind, params: paramsJson(r.params), contract: toHex(r.contract), storageKey: toHex(r.storageKey),
      value: r.value === null ? null : toHex(r.value), decoded: r.decoded, proof: proofToJSON(r.proof) as unknown as Json,
    })),
    block: { hash: toHex(b.block.hash), header: headerJson(b.block.header), commit: commitJson(b.block.commit) },
    validatorSets: {
      // Sets are sets: listed in address order, one spelling.
      genesis: sortedHex(b.validatorSets.genesis),
      changes: b.validatorSets.changes.map((c) => ({ header: headerJson(c.header), commit: commitJson(c.commit), validators: sortedHex(c.validators) })),
    },
  };
}

/** The one text of a bundle: its canonical JSON, two-space indented, with a final newline. */
export function bundleText(b: Bundle): string {
  return `${JSON.stringify(bundleJson(b), null, 2)}\n`;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses bundle text (or bytes), and refuses any text that is not the bundle's canonical one. */
export function readBundleText(input: string | Uint8Array): Bundle {
  let text: string;
  try {
    text = typeof input === 'string' ? input : strictUtf8.decode(input);
  } catch {
    bad('', 'a bundle is UTF-8 JSON text');
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    bad('', `not JSON: ${(e as Error).message}`);
  }
  return parseBundle(v);
}

/** PROOF_NOT_CANONICAL unless `text` is exactly the canonical text of `b`. */
export function checkCanonical(b: Bundle, text: string | Uint8Array): void {
  const want = bundleText(b);
  const got = typeof text === 'string' ? text : strictUtf8.decode(text);
  if (got === want) return;
  let at = 0;
  while (at < got.length && got[at] === want[at]) at++;
  throw new ProofError('PROOF_NOT_CANONICAL', `the text differs from the bundle's canonical form at character ${at} (a bundle has one spelling: re-saving or reformatting it breaks it)`);
}
