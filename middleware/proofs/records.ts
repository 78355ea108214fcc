/**
 * The records a bundle can prove, one kind each: which system contract holds it, the storage key it
 * sits under (the SDK's PersistentMap layout: u8 prefix length ‖ prefix ‖ item key, with integers
 * big-endian, strings as UTF-8, Bytes32 and Uint8Array keys as their bytes; contracts/sdk/assembly/
 * storage.ts itemKey) and the layout of its value. The layouts are fixed here, not taken from a bundle,
 * so a forged ABI cannot relabel a value's fields; records.test.ts checks them against the contracts'
 * own ABIs and their real state. Browser-safe.
 */
import { type AbiType, type StructTable, decode, CodecError } from '../../contracts/sdk/codec.ts';
import { sha256 } from './crypto.ts';
import { type Json, bad, bytes, decimal, object, string, toHex, valueJson } from './json.ts';

export const RECORD_KINDS = ['evidence', 'identity-account', 'identity-certification', 'voucher-balance', 'voucher-item', 'holdings-commitment'] as const;
export type RecordKind = (typeof RECORD_KINDS)[number];

export type RecordParams =
  | { kind: 'evidence'; key: string }
  | { kind: 'identity-account'; address: Uint8Array }
  | { kind: 'identity-certification'; account: Uint8Array; partner: Uint8Array }
  | { kind: 'voucher-balance'; voucher: bigint; holder: Uint8Array }
  | { kind: 'voucher-item'; voucher: bigint; item: string }
  | { kind: 'holdings-commitment'; voucher: bigint; custodian: Uint8Array };

const b32: AbiType = 'bytes32';
/** The value layouts (the contracts' structs, field by field). */
export const RECORD_STRUCTS: StructTable = {
  Evidence: [
    { name: 'key', type: 'string' }, { name: 'digest', type: b32 }, { name: 'registrant', type: b32 }, { name: 'meta', type: 'string' },
    { name: 'timestampToken', type: { option: b32 } }, { name: 'custody', type: { option: b32 } }, { name: 'height', type: 'u64' },
    { name: 'time', type: 'u64' }, { name: 'chain', type: { option: 'string' } }, { name: 'index', type: 'u64' }, { name: 'prev', type: { option: b32 } },
  ],
  Account: [
    { name: 'id', type: 'u64' }, { name: 'address', type: b32 }, { name: 'name', type: { option: 'string' } }, { name: 'keys', type: { array: b32 } },
    { name: 'registeredBy', type: b32 }, { name: 'userPartner', type: b32 }, { name: 'createdAt', type: 'u64' }, { name: 'frozen', type: 'bool' },
    { name: 'frozenBy', type: 'u64' },
  ],
  Certification: [
    { name: 'partner', type: b32 }, { name: 'level', type: 'u8' }, { name: 'identityDigest', type: b32 }, { name: 'vouchesEvidence', type: 'bool' },
    { name: 'certifiedAt', type: 'u64' },
  ],
  Item: [{ name: 'id', type: 'string' }, { name: 'owner', type: b32 }, { name: 'meta', type: 'string' }, { name: 'issuedAt', type: 'u64' }, { name: 'redeemed', type: 'bool' }],
  HoldingsCommitment: [
    { name: 'custodian', type: b32 }, { name: 'root', type: b32 }, { name: 'total', type: 'u128' }, { name: 'leafCount', type: 'u64' },
    { name: 'balance', type: 'u128' }, { name: 'height', type: 'u64' },
  ],
};

interface KindDef {
  contract: 'evidence' | 'identity' | 'voucher';
  /** The PersistentMap's prefix in the contract's source. */
  prefix: string;
  params: readonly string[];
  value: AbiType;
}

export const KINDS: Readonly<Record<RecordKind, KindDef>> = {
  'evidence': { contract: 'evidence', prefix: 'e', params: ['key'], value: { struct: 'Evidence' } },
  'identity-account': { contract: 'identity', prefix: 'a', params: ['address'], value: { struct: 'Account' } },
  'identity-certification': { contract: 'identity', prefix: 'c', params: ['account', 'partner'], value: { struct: 'Certification' } },
  'voucher-balance': { contract: 'voucher', prefix: 'b', params: ['voucher', 'holder'], value: 'u128' },
  'voucher-item': { contract: 'voucher', prefix: 'it', params: ['voucher', 'item'], value: { struct: 'Item' } },
  'holdings-commitment': { contract: 'voucher', prefix: 'hc', params: ['voucher', 'custodian'], value: { struct: 'HoldingsCommitment' } },
};

const utf8 = new TextEncoder();

/** A system contract's address: sha256("brop:system:" + name), as genesis deploys it. */
export function systemContractAddress(name: string): Uint8Array {
  return sha256(utf8.encode(`brop:system:${name}`));
}

function u64be(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A PersistentMap item's storage key: u8 prefix length ‖ prefix ‖ item key. */
function itemKey(prefix: string, key: Uint8Array): Uint8Array {
  const p = utf8.encode(prefix);
  return concat(new Uint8Array([p.length]), p, key);
}

/** The storage key of a record, in its contract's storage. */
export function storageKeyOf(p: RecordParams): Uint8Array {
  const prefix = KINDS[p.kind].prefix;
  switch (p.kind) {
    case 'evidence': return itemKey(prefix, utf8.encode(p.key));
    case 'identity-account': return itemKey(prefix, p.address);
    case 'identity-certification': return itemKey(prefix, concat(p.account, p.partner));
    case 'voucher-balance': return itemKey(prefix, concat(u64be(p.voucher), p.holder));
    case 'voucher-item': return itemKey(prefix, concat(u64be(p.voucher), utf8.encode(p.item)));
    case 'holdings-commitment': return itemKey(prefix, concat(u64be(p.voucher), p.custodian));
  }
}

export function contractOf(kind: RecordKind): { name: string; address: Uint8Array } {
  const name = KINDS[kind].contract;
  return { name, address: systemContractAddress(name) };
}

/** Params as they appear in a bundle (bytes as 0x-hex, voucher ids as decimal strings). */
export function paramsJson(p: RecordParams): { [k: string]: Json } {
  switch (p.kind) {
    case 'evidence': return { key: p.key };
    case 'identity-account': return { address: toHex(p.address) };
    case 'identity-certification': return { account: toHex(p.account), partner: toHex(p.partner) };
    case 'voucher-balance': return { voucher: p.voucher.toString(), holder: toHex(p.holder) };
    case 'voucher-item': return { voucher: p.voucher.toString(), item: p.item };
    case 'holdings-commitment': return { voucher: p.voucher.toString(), custodian: toHex(p.custodian) };
  }
}

export function isRecordKind(k: unknown): k is RecordKind {
  return typeof k === 'string' && (RECORD_KINDS as readonly string[]).includes(k);
}

/**
 * Params as a program gives them (bytes as Uint8Array or 0x-hex, voucher ids as bigint, safe integer or
 * decimal string), checked as strictly as a bundle's: anything else is PROOF_MALFORMED, naming the field.
 */
export function recordParams(v: unknown, path = 'record'): RecordParams {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(path, 'record params are an object with a kind');
  const { kind, ...fields } = v as Record<string, unknown>;
  if (!isRecordKind(kind)) bad(`${path}.kind`, `one of ${RECORD_KINDS.join(', ')}`);
  const json: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(fields)) {
    json[k] = x instanceof Uint8Array ? toHex(x) : typeof x === 'bigint' || (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) ? String(x) : x;
  }
  return parseParams(kind, json, path);
}

/** Params from their bundle JSON, strictly (the contracts' own limits on keys and item ids). */
export function parseParams(kind: RecordKind, v: unknown, path: string): RecordParams {
  const o = object(v, path, KINDS[kind].params);
  switch (kind) {
    case 'evidence': {
      const key = string(o.key, `${path}.key`, 256);
      if (key.length === 0) bad(`${path}.key`, 'evidence keys are 1 to 256 characters');
      return { kind, key };
    }
    case 'identity-account': return { kind, address: bytes(o.address, `${path}.address`, 32) };
    case 'identity-certification': return { kind, account: bytes(o.account, `${path}.account`, 32), partner: bytes(o.partner, `${path}.partner`, 32) };
    case 'voucher-balance': return { kind, voucher: decimal(o.voucher, `${path}.voucher`, 64), holder: bytes(o.holder, `${path}.holder`, 32) };
    case 'voucher-item': return { kind, voucher: decimal(o.voucher, `${path}.voucher`, 64), item: string(o.item, `${path}.item`, 4096) };
    case 'holdings-commitment': return { kind, voucher: decimal(o.voucher, `${path}.voucher`, 64), custodian: bytes(o.custodian, `${path}.custodian`, 32) };
  }
}

/** Decodes a stored value as its kind's layout; PROOF_VALUE if it does not decode exactly. */
export function decodeRecordValue(kind: RecordKind, raw: Uint8Array, path: string): Json {
  try {
    return valueJson(decode(KINDS[kind].value, raw, RECORD_STRUCTS));
  } catch (e) {
    if (e instanceof CodecError) bad(path, `the value does not decode as ${kind}: ${e.message}`, 'PROOF_VALUE');
    throw e;
  }
}

/**
 * What the decoded value must say about the params: the record names what it is stored under (the
 * contracts write it so). A storage layout change would show here rather than as a wrong record.
 */
export function checkRecordValue(p: RecordParams, decoded: Json, path: string): void {
  if (decoded === null) return;
  const d = decoded as Record<string, Json>;
  const expect = (field: string, want: string) => {
    if (d[field] !== want) bad(`${path}.${field}`, `the record says ${JSON.stringify(d[field])}, the params ${JSON.stringify(want)}`, 'PROOF_VALUE');
  };
  switch (p.kind) {
    case 'evidence': return expect('key', p.key);
    case 'identity-account': return expect('address', toHex(p.address));
    case 'identity-certification': return expect('partner', toHex(p.partner));
    case 'voucher-item': return expect('id', p.item);
    case 'holdings-commitment': return expect('custodian', toHex(p.custodian));
    case 'voucher-balance': return;
  }
}
