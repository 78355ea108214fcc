/**
 * A partner registers a document's digest as evidence, waits for the final receipt, and reads the
 * record back three ways: the contract's view, its `verify`, and a state proof checked against the
 * block's state root. Everything goes through the partner SDK (`brop/sdk`), as a partner application
 * would use it; the evidence contract through its generated wrapper (examples/sdk/evidence.ts, made
 * by `brop sdk generate --contract evidence --out examples/sdk/evidence.ts`).
 *
 * Against `npm start`'s local chain, from the repository root:
 *
 *   node examples/sdk-register-evidence.ts [FILE] [--rpc URL] [--index URL] [--operator-key FILE] [--partner-key FILE] [--key KEY]
 *
 * Defaults: http://127.0.0.1:8645/, .brop/local/keys/operator.json, and a partner key in
 * .brop/local/keys/example-partner.json (created on the first run). The operator admits the partner
 * once; the partner's key registers itself with the identity contract once. With --index (the
 * middleware's URL: `npm start` serves it at http://127.0.0.1:8650/) the registration also waits for
 * the middleware's index, and the record is read back from it too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { BropClient, Wallet, decodeValue, storageKey, toHex, type TxCommitted } from 'brop/sdk';
import { createKeyFile, loadWallet } from 'brop/sdk/node';
import { EvidenceContract, type Evidence } from './sdk/evidence.ts';

/** admission's permission bit for evidence partners (docs/system-contracts.md). */
const PERM_EVIDENCE = 2;

export interface RegisterEvidenceInput {
  client: BropClient;
  operator: Wallet;
  partner: Wallet;
  /** The evidence key (unique on the chain). */
  key: string;
  document: Uint8Array;
  meta?: string;
  /** Progress lines. */
  log?: (line: Record<string, unknown>) => void;
}

export interface RegisterEvidenceResult {
  digest: string;
  receipt: TxCommitted;
  /** The record carried by the `registered` event of the receipt. */
  event: Evidence | undefined;
  record: Evidence;
  /** The record as the middleware's index has it (when the client has an indexUrl). */
  indexed: { key: string; digest: string } | undefined;
  verified: boolean;
  /** The record as the state proof proves it (decoded storage entry). */
  proven: Evidence;
  proofHeight: number;
}

/** Makes `partner` an evidence partner if it is not one yet: admitted by the operator, its key registered. */
export async function ensurePartner(client: BropClient, operator: Wallet, partner: Wallet, log: (line: Record<string, unknown>) => void = () => undefined): Promise<void> {
  const admission = client.contract('admission', { wallet: operator });
  const identity = client.contract('identity', { wallet: partner });
  if ((await admission.roleOf(partner.address)) === 0) {
    const agreement = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`partner agreement of ${partner.addressHex}`)));
    const r: TxCommitted = await admission.admitPartner(partner.address, 'Example Partner', PERM_EVIDENCE, agreement);
    log({ step: 'partner admitted', partner: partner.addressHex, tx: r.hash, height: r.height });
  }
  if (!(await identity.isAuthorisedKey(partner.address, partner.publicKey))) {
    const r: TxCommitted = await identity.register(partner.publicKey, null);
    log({ step: 'partner key registered', tx: r.hash, height: r.height });
  }
}

export async function registerEvidence(input: RegisterEvidenceInput): Promise<RegisterEvidenceResult> {
  const { client, operator, partner, key, document } = input;
  const log = input.log ?? (() => undefined);
  await ensurePartner(client, operator, partner, log);

  // Only the digest goes on chain; the document stays with the partner.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', document));
  const evidence = new EvidenceContract(client, { wallet: partner });
  // With the middleware's index, wait until it has the block too: then queries through it see the record.
  const receipt = await evidence.register(key, digest, input.meta ?? '', null, null, { waitForIndexer: client.index !== undefined });
  // The receipt's events, decoded through the contract's ABI: the record as the contract stored it.
  const events = await evidence.$events(receipt);
  log({ step: 'registered', key, digest: toHex(digest), tx: receipt.hash, height: receipt.height, events: events.map((e) => e.name) });

  const record = await evidence.get(key);
  if (!record) throw new Error(`the chain has no evidence under ${key} after its registration committed`);
  const verified = await evidence.verify(key, digest);
  const indexed = client.index ? await client.index.call<{ key: string; digest: string }>('evidence_get', { key }) : undefined;

  // The record itself, proven against a committed state root: the evidence contract keeps records in
  // its collection "e", keyed by the evidence key.
  const proof = await client.stateProof('evidence', storageKey('e', key));
  if (!proof.value) throw new Error('the state proof says the record is absent');
  const { abi } = await evidence.$.resolve();
  const proven = decodeValue(abi, { struct: 'Evidence' }, proof.value) as Evidence;
  log({ step: 'read back', registrant: toHex(record.registrant), blockHeight: Number(record.height), verified, proofHeight: proof.height, indexed: indexed !== undefined });
  const registered = events.find((e) => e.name === 'registered');
  return { digest: toHex(digest), receipt, event: registered?.name === 'registered' ? registered.value : undefined, record, indexed, verified, proven, proofHeight: proof.height };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rpc: { type: 'string' }, index: { type: 'string' }, 'operator-key': { type: 'string' }, 'partner-key': { type: 'string' }, key: { type: 'string' } },
  });
  const print = (line: Record<string, unknown>) => console.log(JSON.stringify(line));
  const partnerKey = values['partner-key'] ?? '.brop/local/keys/example-partner.json';
  const partner = existsSync(partnerKey) ? await loadWallet(partnerKey) : createKeyFile(partnerKey);
  const operator = await loadWallet(values['operator-key'] ?? '.brop/local/keys/operator.json');
  const client = new BropClient({ url: values.rpc ?? 'http://127.0.0.1:8645/', indexUrl: values.index });
  try {
    const document = positionals[0] ? new Uint8Array(readFileSync(positionals[0])) : new TextEncoder().encode(`an example document, ${new Date().toISOString()}`);
    const r = await registerEvidence({ client, operator, partner, key: values.key ?? `example/${Date.now()}`, document, meta: '{"kind":"example"}', log: print });
    print({ ok: r.verified, key: r.record.key, digest: r.digest, height: r.receipt.height });
  } finally {
    await client.close();
  }
}

if (import.meta.main) await main();
