/**
 * The public verification page (SPEC E6), in the visitor's browser: a dropped file is hashed here
 * (WebCrypto) and never sent anywhere; its records are looked up in the middleware's index by digest;
 * each record's proof bundle (block header, commit certificate, validator-set changes, state proof) is
 * built from the middleware's forwarded node reads and verified here with the same verifier `brop
 * verify` runs. Also: the latest blocks and their transactions, and vouchers' public reports.
 * Everything shown comes from chain data; text is set as text, never as markup.
 */
import { RpcClient, buildBundle, verifyDocument, type Trust, type VerifiedBundle } from '../../proofs/browser.ts';

const rpc = new RpcClient(`${location.origin}/`);

type Child = Node | string | null | undefined | false;
function h(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}
const $ = (id: string) => document.getElementById(id)!;
const when = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
const short = (hex: string) => `${hex.slice(0, 10)}…${hex.slice(-6)}`;
const hexBytes = (hex: string) => new Uint8Array((hex.replace(/^0x/, '').match(/../g) ?? []).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => `0x${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;

interface Evidence { key: string; digest: string; registrant: string; meta: string; status: string; height: number; time: number; txHash: string; chain: string | null; index: number | null; parties: string[] }
interface Page<T> { items: T[]; next?: string }

const partnerNames = new Map<string, Promise<string | null>>();
function partnerName(address: string): Promise<string | null> {
  let p = partnerNames.get(address);
  if (!p) {
    p = rpc.call<{ result: { name: string } | null }>('contract_call', { contract: 'admission', method: 'getPartner', args: [address] })
      .then((r) => r.result?.name ?? null, () => null);
    partnerNames.set(address, p);
  }
  return p;
}

async function who(address: string): Promise<HTMLElement> {
  const name = await partnerName(address);
  return h('span', {}, name ? h('strong', {}, name) : 'an account', ' ', h('code', { title: address }, short(address)));
}

let trustPromise: Promise<Trust> | undefined;
/** The chain id and its genesis validator set, as this page checks proofs against them. */
function trust(): Promise<Trust> {
  trustPromise ??= (async () => {
    const [status, sets] = await Promise.all([
      rpc.call<{ chainId: string }>('chain_status'),
      rpc.call<{ epochs: Array<{ from: number; validators: string[] }> }>('chain_validatorSets', { height: 0 }),
    ]);
    return { chainId: status.chainId, validators: sets.epochs[0]!.validators.map(hexBytes) };
  })();
  return trustPromise;
}

// ---- verify a file -----------------------------------------------------------------------------

async function verifyFile(file: File): Promise<void> {
  const out = $('result');
  out.replaceChildren(h('p', { class: 'muted' }, `Hashing ${file.name} in your browser…`));
  const bytes = new Uint8Array(await file.arrayBuffer());
  const digest = toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
  const found = await rpc.call<Page<Evidence>>('evidence_find', { digest, limit: 20 });
  const head = h('p', {}, h('strong', {}, file.name), ` · ${bytes.length} bytes · SHA-256 `, h('code', { id: 'digest' }, digest));
  if (found.items.length === 0) {
    out.replaceChildren(head, h('p', { class: 'bad', id: 'verdict' }, 'No record of this file on the chain.'), h('p', { class: 'muted' }, 'Any change to a file, even one byte, gives another digest.'));
    return;
  }
  out.replaceChildren(head);
  for (const r of found.items) out.append(await recordCard(r, bytes));
}

async function recordCard(r: Evidence, file: Uint8Array): Promise<HTMLElement> {
  const status = r.status === 'registered' ? 'Registered' : r.status === 'effective' ? 'Registered by all parties' : r.status === 'pending' ? 'Proposed (not every party has confirmed)' : 'Revoked';
  const card = h('div', { class: 'card record' },
    h('h3', {}, status, ' under ', h('code', {}, r.key)),
    h('p', {}, 'On ', h('strong', { class: 'when' }, when(r.time)), ` in block #${r.height}, by `, await who(r.registrant), '.'),
    r.meta ? h('p', { class: 'muted' }, 'Details: ', h('code', {}, r.meta)) : null,
  );
  if (r.chain !== null) card.append(await chainTable(r));
  const proof = h('p', { class: 'proof muted' }, 'Checking the proof…');
  card.append(proof);
  void checkProof(r, file).then((v) => {
    proof.className = 'proof ok';
    proof.replaceChildren(
      '✓ Proof verified: ',
      `block #${v.block.height} is final (signed by ${v.signed.signers} of its ${v.signed.of} validators${v.setChanges.length ? `, after ${v.setChanges.length} validator-set change${v.setChanges.length > 1 ? 's' : ''}` : ''}), `,
      'the record is in its state, and this file is the one registered. ',
      h('span', { class: 'muted' }, 'Genesis validator set ', h('code', {}, short(v.genesisValidatorSetHash)), ` of chain ${v.chainId}.`),
    );
  }, (e: Error & { code?: string }) => {
    proof.className = 'proof bad';
    proof.replaceChildren(`✗ The proof does not hold: ${e.code ?? 'ERROR'}: ${e.message}`);
  });
  return card;
}

async function checkProof(r: Evidence, file: Uint8Array): Promise<VerifiedBundle> {
  const t = await trust();
  const built = await buildBundle(rpc, { kind: 'evidence', key: r.key }, { trust: t });
  verifyDocument(built.verified, file);
  // What the card shows came from the index: it must be what the proof says the chain holds.
  const proven = built.verified.records[0]!.value as Record<string, unknown>;
  for (const [field, shown] of [['digest', r.digest], ['registrant', r.registrant], ['height', r.height], ['time', r.time], ['meta', r.meta]] as const) {
    if (String(proven[field]) !== String(shown)) {
      throw Object.assign(new Error(`the index says ${field} ${String(shown)}, the proven record ${String(proven[field])}`), { code: 'INDEX_MISMATCH' });
    }
  }
  return built.verified;
}

async function chainTable(r: Evidence): Promise<HTMLElement> {
  const page = await rpc.call<Page<Evidence>>('evidence_find', { chain: r.chain, limit: 100 });
  const rows = await Promise.all(page.items.map(async (e) => h('tr', e.key === r.key ? { class: 'here' } : {},
    h('td', {}, String(e.index)), h('td', {}, h('code', {}, e.key)), h('td', {}, when(e.time)), h('td', {}, await who(e.registrant)))));
  return h('div', { class: 'chain' }, h('p', {}, `Part of the linked chain `, h('strong', {}, r.chain!), ` (${page.items.length}${page.next ? '+' : ''} records, each committing to the one before):`),
    h('table', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, 'key'), h('th', {}, 'time'), h('th', {}, 'by')), ...rows));
}

// ---- blocks and transactions --------------------------------------------------------------------

interface BlockJson { hash: string; header: { height: number; time: number; proposer: string }; txCount: number; txs: Array<{ hash: string; sender: string; method: string; contract: string }>; receipts?: Array<{ status: string; error: string | null }> }

async function showBlocks(): Promise<void> {
  const { indexedHeight } = await rpc.call<{ indexedHeight: number }>('index_status');
  const heights = Array.from({ length: Math.min(10, indexedHeight + 1) }, (_, i) => indexedHeight - i);
  const blocks = await Promise.all(heights.map((height) => rpc.call<BlockJson>('chain_block', { height })));
  $('blocks').replaceChildren(h('table', { id: 'block-list' }, h('tr', {}, h('th', {}, 'height'), h('th', {}, 'time'), h('th', {}, 'transactions'), h('th', {}, 'hash')),
    ...blocks.map((b) => {
      const open = h('button', { class: 'link' }, `#${b.header.height}`);
      open.addEventListener('click', () => void showBlock(b.header.height));
      return h('tr', {}, h('td', {}, open), h('td', {}, when(b.header.time)), h('td', {}, String(b.txCount)), h('td', {}, h('code', {}, short(b.hash))));
    })));
}

async function showBlock(height: number): Promise<void> {
  const b = await rpc.call<BlockJson>('chain_block', { height, full: true });
  $('block').replaceChildren(h('div', { class: 'card' }, h('h3', {}, `Block #${height}`), h('p', {}, h('code', {}, b.hash)),
    h('table', {}, ...b.txs.map((t, i) => h('tr', {}, h('td', {}, h('code', {}, short(t.hash))), h('td', {}, t.method), h('td', {}, h('code', {}, short(t.sender))),
      h('td', { class: b.receipts?.[i]?.status === 'ok' ? 'ok' : 'bad' }, b.receipts?.[i]?.status === 'ok' ? 'ok' : (b.receipts?.[i]?.error ?? 'failed')))))));
}

async function showTx(hash: string): Promise<void> {
  try {
    const t = await rpc.call<{ hash: string; height: number; index: number; time: number; sender: string; contract: string; method: string; ok: boolean; error: string | null }>('tx_lookup', { hash: hash.trim().toLowerCase() });
    $('tx').replaceChildren(h('div', { class: 'card' }, h('p', {}, `${t.contract}.${t.method} in block #${t.height} (${when(t.time)}), sent by `, h('code', {}, t.sender), ': ',
      h('span', { class: t.ok ? 'ok' : 'bad' }, t.ok ? 'succeeded' : `failed (${t.error})`))));
  } catch (e) {
    $('tx').replaceChildren(h('p', { class: 'bad' }, (e as Error).message));
  }
}

// ---- vouchers -----------------------------------------------------------------------------------

interface Voucher { id: number; symbol: string; name: string; issuer: string }

async function showVouchers(): Promise<void> {
  const page = await rpc.call<Page<Voucher>>('voucher_find', { limit: 100 });
  const rows = await Promise.all(page.items.map(async (v) => {
    const open = h('button', { class: 'link' }, v.symbol);
    open.addEventListener('click', () => void showVoucher(v));
    return h('tr', {}, h('td', {}, open), h('td', {}, v.name), h('td', {}, await who(v.issuer)));
  }));
  $('vouchers').replaceChildren(page.items.length === 0 ? h('p', {}, 'No vouchers yet.') : h('table', { id: 'voucher-list' }, h('tr', {}, h('th', {}, 'symbol'), h('th', {}, 'name'), h('th', {}, 'issuer')), ...rows));
}

async function showVoucher(v: Voucher): Promise<void> {
  const holders = await rpc.call<Page<{ holder: string; balance: string }>>('holding_find', { symbol: v.symbol, limit: 1000 });
  const total = holders.items.reduce((s, x) => s + BigInt(x.balance), 0n);
  $('voucher').replaceChildren(h('div', { class: 'card', id: 'voucher-report' }, h('h3', {}, `${v.symbol} · ${v.name}`),
    h('p', {}, `${holders.items.length}${holders.next ? '+' : ''} holders, ${total} in circulation.`),
    h('table', {}, ...holders.items.map((x) => h('tr', {}, h('td', {}, h('code', {}, x.holder)), h('td', {}, x.balance))))));
}

// ---- wiring -------------------------------------------------------------------------------------

function tab(name: string): void {
  for (const t of ['verify', 'blocks', 'vouchers']) {
    ($(`tab-${t}`) as HTMLElement).hidden = t !== name;
    document.querySelector(`[data-tab="${t}"]`)?.classList.toggle('active', t === name);
  }
  if (name === 'blocks') void showBlocks();
  if (name === 'vouchers') void showVouchers();
}

window.addEventListener('hashchange', () => tab(location.hash.slice(1) || 'verify'));
tab(location.hash.slice(1) || 'verify');

const input = $('file') as HTMLInputElement;
input.addEventListener('change', () => { if (input.files?.[0]) void verifyFile(input.files[0]).catch(showError); });
const drop = $('drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const f = e.dataTransfer?.files[0];
  if (f) void verifyFile(f).catch(showError);
});
$('tx-form').addEventListener('submit', (e) => { e.preventDefault(); void showTx(($('tx-hash') as HTMLInputElement).value); });

function showError(e: Error & { code?: string }): void {
  $('result').replaceChildren(h('p', { class: 'bad' }, `${e.code ?? 'ERROR'}: ${e.message}`));
}

void rpc.call<{ chainId: string; height: number }>('chain_status').then((s) => { $('chain').textContent = `chain ${s.chainId} · height ${s.height}`; }, () => undefined);
