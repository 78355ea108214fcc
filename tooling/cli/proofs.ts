/**
 * Proof commands: `brop verify` (offline: a bundle, optionally a document and a holder's proof),
 * `brop proof KIND ...` (fetch a bundle from a node) and `brop holdings build|commit` (a custodian's
 * proof of holdings). The verifier is middleware/proofs, the same code the browser runs.
 */
import { readFileSync, writeFileSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { accountAddress } from '../../contracts/system/index.ts';
import { readKeyFile } from '../../node/keys/key-file.ts';
import { buildBundle } from '../../middleware/proofs/build.ts';
import { ProofError } from '../../middleware/proofs/errors.ts';
import { type VerifiedHolding, verifyHoldingProof } from '../../middleware/proofs/holding.ts';
import { type Json, toHex } from '../../middleware/proofs/json.ts';
import type { RecordParams } from '../../middleware/proofs/records.ts';
import { type Trust, type VerifiedBundle, documentDigestField, trustFromGenesis, verifyBundle, verifyDocument } from '../../middleware/proofs/verify.ts';
import { buildHoldings, commitHoldings, parseCommitment, parseHolders, writeHoldings } from '../../middleware/proofs/custodian.ts';
import { CliError, toJson } from './output.ts';

/** The node client of the chain commands, loaded only by the commands that talk to a node. */
const rpcClient = async (values: Record<string, unknown>) => (await import('./chain.ts')).rpcClient(values);

const print = (v: unknown) => process.stdout.write(`${toJson(v)}\n`);

function parse(argv: string[], options: ParseArgsOptionsConfig, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError('CLI_USAGE', `${(e as Error).message}\nusage: ${usage}`);
  }
}

function readFile(path: string, what: string): Buffer {
  try {
    return readFileSync(resolve(path));
  } catch (e) {
    throw new CliError('FILE_UNREADABLE', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

function readJsonFile(path: string, what: string): unknown {
  try {
    return JSON.parse(readFile(path, what).toString('utf8'));
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError('FILE_UNREADABLE', `${what} ${path} is not JSON: ${(e as Error).message}`);
  }
}

function genesisTrust(path: string | undefined): Trust | undefined {
  if (path === undefined) return undefined;
  return trustFromGenesis(readJsonFile(path, 'genesis file'));
}

const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const short = (h: string) => (h.length > 20 ? `${h.slice(0, 10)}…${h.slice(-8)}` : h);

function title(v: VerifiedBundle): string {
  const p = v.records[0]!.params as Record<string, string>;
  switch (v.kind) {
    case 'evidence': return `evidence ${JSON.stringify(p.key)}`;
    case 'identity-account': return `identity account ${p.address}`;
    case 'identity-certification': return `certification of account ${p.account} by partner ${p.partner}`;
    case 'voucher-balance': return `balance of ${p.holder} in voucher ${p.voucher}`;
    case 'voucher-item': return `item ${JSON.stringify(p.item)} of voucher ${p.voucher}`;
    case 'holdings-commitment': return `holdings commitment of custodian ${p.custodian} in voucher ${p.voucher}`;
  }
}

/** The human summary of a verified bundle (and of the document and holding checked with it). */
export function summary(v: VerifiedBundle, extra: { document?: { file: string; digest: string; field: string }; holding?: VerifiedHolding; genesisFile?: string }): string {
  const r = v.records[0]!;
  const lines = [`VERIFIED: ${title(v)} on chain ${JSON.stringify(v.chainId)}`];
  if (!r.exists) lines.push('  the record does NOT exist at this block (the bundle proves its absence)');
  else if (typeof r.value === 'object' && r.value !== null) {
    const width = Math.max(...Object.keys(r.value).map((k) => k.length));
    for (const [k, x] of Object.entries(r.value as Record<string, Json>)) {
      const shown = (k === 'time' || k === 'createdAt') && typeof x === 'string' && Number(x) > 1e11 ? `${x} (${when(Number(x))})` : typeof x === 'string' ? x : JSON.stringify(x);
      lines.push(`  ${k.padEnd(width)}  ${shown}`);
    }
  } else lines.push(`  value  ${JSON.stringify(r.value)}`);
  if (v.holdings) {
    const h = v.holdings;
    lines.push(`  full reserve: the custodian held ${h.custodianBalance} at this block, at least the committed total ${h.total} (${h.leafCount} holders, committed at block ${h.committedAt})`);
  }
  if (extra.document) lines.push(`  document ${extra.document.file}: its sha256 ${extra.document.digest} is the record's ${extra.document.field}`);
  if (extra.holding) lines.push(`  holding: account ${JSON.stringify(extra.holding.account)} holds ${extra.holding.amount} of the committed ${extra.holding.total} (leaf ${short(extra.holding.digest)})`);
  lines.push(`Proven by block ${v.block.height} (${short(v.block.hash)}, ${when(v.block.time)}), certified by ${v.signed.signers} of its ${v.signed.of} validators;`);
  lines.push(v.setChanges.length === 0
    ? `  signed by the genesis validator set (${short(v.genesisValidatorSetHash)}).`
    : `  validator set followed from genesis (${short(v.genesisValidatorSetHash)}) through ${v.setChanges.length} change${v.setChanges.length > 1 ? 's' : ''} (after block${v.setChanges.length > 1 ? 's' : ''} ${v.setChanges.map((c) => c.lastHeight).join(', ')}).`);
  lines.push(v.trust === 'given'
    ? `Trust: the genesis validator set of ${extra.genesisFile}.`
    : `Trust: only the bundle's own genesis validator set ${v.genesisValidatorSetHash}. Compare it with the chain's published genesis, or pass --genesis GENESIS.json.`);
  return `${lines.join('\n')}\n`;
}

export async function runVerify(argv: string[]): Promise<number> {
  const usage = 'brop verify BUNDLE.json [FILE] [--genesis GENESIS.json] [--holding HOLDING.json] [--json]';
  const { values, positionals } = parse(argv, { genesis: { type: 'string' }, holding: { type: 'string' }, json: { type: 'boolean' } }, usage);
  const [bundlePath, filePath, ...more] = positionals;
  if (!bundlePath || more.length > 0) throw new CliError('CLI_USAGE', `usage: ${usage}`);
  const bundle = readFile(bundlePath, 'bundle');
  const file = filePath === undefined ? undefined : readFile(filePath, 'file');
  const holding = values.holding === undefined ? undefined : readFile(String(values.holding), 'holding proof').toString('utf8');
  const trust = genesisTrust(values.genesis as string | undefined);
  try {
    const v = verifyBundle(new Uint8Array(bundle), { trust });
    if (file && !documentDigestField(v.kind)) throw new CliError('CLI_USAGE', `a ${v.kind} bundle holds no document digest to check a FILE against`);
    const document = file ? { file: filePath!, ...verifyDocument(v, new Uint8Array(file)) } : undefined;
    const held = holding === undefined ? undefined : verifyHoldingProof(holding, v);
    if (values.json) print({ ...v, document, holding: held });
    else process.stdout.write(summary(v, { document, holding: held, genesisFile: values.genesis as string | undefined }));
    return 0;
  } catch (e) {
    if (!(e instanceof ProofError)) throw e;
    if (values.json) print({ ok: false, error: e.toJSON() });
    else process.stderr.write(`NOT VERIFIED: ${e.code}: ${e.message}\n`);
    return 1;
  }
}

const PROOF_KINDS: Record<string, { args: string[]; params: (a: string[]) => RecordParams }> = {
  evidence: { args: ['KEY'], params: ([key]) => ({ kind: 'evidence', key: key! }) },
  account: { args: ['ADDRESS'], params: ([a]) => ({ kind: 'identity-account', address: address(a!) }) },
  certification: { args: ['ACCOUNT', 'PARTNER'], params: ([a, p]) => ({ kind: 'identity-certification', account: address(a!), partner: address(p!) }) },
  balance: { args: ['VOUCHER', 'HOLDER'], params: ([v, h]) => ({ kind: 'voucher-balance', voucher: voucherId(v!), holder: address(h!) }) },
  item: { args: ['VOUCHER', 'ITEM'], params: ([v, i]) => ({ kind: 'voucher-item', voucher: voucherId(v!), item: i! }) },
  holdings: { args: ['VOUCHER', 'CUSTODIAN'], params: ([v, c]) => ({ kind: 'holdings-commitment', voucher: voucherId(v!), custodian: address(c!) }) },
};

function address(v: string): Uint8Array {
  if (!/^0x[0-9a-fA-F]{64}$/.test(v)) throw new CliError('CLI_USAGE', `${v} is not a 32-byte 0x-hex address`);
  return new Uint8Array(Buffer.from(v.slice(2), 'hex'));
}

function voucherId(v: string): bigint {
  if (!/^(0|[1-9][0-9]{0,19})$/.test(v) || BigInt(v) >= 1n << 64n) throw new CliError('CLI_USAGE', `${v} is not a voucher id`);
  return BigInt(v);
}

function writeText(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

export async function runProof(argv: string[]): Promise<number> {
  const kinds = Object.entries(PROOF_KINDS).map(([k, d]) => `${k} ${d.args.join(' ')}`).join(' | ');
  const usage = `brop proof (${kinds}) [--out BUNDLE.json] [--height H] [--genesis GENESIS.json] [--rpc URL | --home DIR] [--api-key KEY]`;
  const { values, positionals } = parse(argv, {
    out: { type: 'string' }, height: { type: 'string' }, genesis: { type: 'string' }, rpc: { type: 'string' }, home: { type: 'string' }, 'api-key': { type: 'string' },
  }, usage);
  const [kind, ...args] = positionals;
  const def = kind === undefined ? undefined : PROOF_KINDS[kind];
  if (!def || args.length !== def.args.length) throw new CliError('CLI_USAGE', `usage: ${usage}`);
  const height = values.height === undefined ? undefined : Number(values.height);
  if (height !== undefined && (!Number.isSafeInteger(height) || height < 1)) throw new CliError('CLI_USAGE', '--height must be a positive integer');
  const built = await buildBundle(await rpcClient(values), def.params(args), { height, trust: genesisTrust(values.genesis as string | undefined) });
  if (values.out === undefined) {
    process.stdout.write(built.text);
    return 0;
  }
  writeText(resolve(String(values.out)), built.text);
  print({ ok: true, out: resolve(String(values.out)), kind: built.verified.kind, chainId: built.verified.chainId, height: built.verified.block.height, exists: built.verified.records[0]!.exists });
  return 0;
}

export async function runHoldings(argv: string[]): Promise<number> {
  const usage = 'brop holdings build --voucher ID (--custodian ADDRESS | --key FILE) --holders FILE --out DIR | brop holdings commit --dir DIR --key FILE [--rpc URL | --home DIR]';
  const [sub, ...rest] = argv;
  if (sub === 'build') {
    const { values } = parse(rest, { voucher: { type: 'string' }, custodian: { type: 'string' }, key: { type: 'string' }, holders: { type: 'string' }, out: { type: 'string' } }, usage);
    if (!values.voucher || !values.holders || !values.out || (!values.custodian && !values.key)) throw new CliError('CLI_USAGE', `usage: ${usage}`);
    const custodian = values.custodian ? address(String(values.custodian)) : accountAddress(readKeyFile(resolve(String(values.key))).publicKey);
    const built = buildHoldings(parseHolders(readFile(String(values.holders), 'holders list').toString('utf8')), { voucher: voucherId(String(values.voucher)), custodian });
    const files = writeHoldings(resolve(String(values.out)), built);
    print({ ok: true, dir: resolve(String(values.out)), voucher: built.voucher, custodian: toHex(custodian), root: toHex(built.root), total: built.total.toString(), leafCount: built.leafCount, holders: Object.fromEntries(files) });
    return 0;
  }
  if (sub === 'commit') {
    const { values } = parse(rest, { dir: { type: 'string' }, key: { type: 'string' }, rpc: { type: 'string' }, home: { type: 'string' }, 'api-key': { type: 'string' } }, usage);
    if (!values.dir || !values.key) throw new CliError('CLI_USAGE', `usage: ${usage}`);
    const c = parseCommitment(readJsonFile(resolve(String(values.dir), 'commitment.json'), 'commitment'));
    const r = await commitHoldings(await rpcClient(values), readKeyFile(resolve(String(values.key))), c);
    print({ ok: true, tx: r.hash, height: r.height, voucher: c.voucher, custodian: toHex(c.custodian), root: toHex(c.root), total: c.total.toString(), leafCount: c.leafCount });
    return 0;
  }
  throw new CliError('CLI_USAGE', `usage: ${usage}`);
}
