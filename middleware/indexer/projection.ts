/**
 * The projection: what one committed block means for the index. Pure: the same block gives the same
 * rows. Business records come from the system contracts' events (their data decoded through the ABI);
 * every transaction and event also becomes a stream item for subscribers. Voucher balances change by
 * deltas, which the indexer turns into balances (it knows the ones before the block).
 */
import {
  BLOCK_SLOT_TX, type CertificationRow, type ChainBlock, type ChainEvent, type EvidenceRow, type IdentityRow, type IndexBatch,
  type ItemRow, type StreamItem, type TxRow, type VoucherRow, cursorText,
} from './types.ts';

export interface Projection {
  batch: Omit<IndexBatch, 'holdings'>;
  /** Balance changes by holding. */
  deltas: Map<string, { symbol: string; holder: string; by: bigint }>;
}

type Json = Record<string, unknown>;

const addr = (t: string | undefined): string => (t === undefined ? '' : t.startsWith('0x') ? t.toLowerCase() : `0x${t.toLowerCase()}`);
const num = (v: unknown): number => Number(v ?? 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const optStr = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function project(block: ChainBlock): Projection {
  const stream: StreamItem[] = [];
  const txs: TxRow[] = [];
  const evidence = new Map<string, EvidenceRow>();
  const identities = new Map<string, IdentityRow>();
  const certifications = new Map<string, CertificationRow>();
  const vouchers: VoucherRow[] = [];
  const items = new Map<string, ItemRow>();
  const deltas = new Map<string, { symbol: string; holder: string; by: bigint }>();
  const revocations: Array<{ address: string; partner: string }> = [];
  const { height, time } = block;
  const delta = (symbol: string, holder: string, by: bigint) => {
    const k = JSON.stringify([symbol, holder]);
    const d = deltas.get(k);
    if (d) d.by += by;
    else deltas.set(k, { symbol, holder, by });
  };

  block.txs.forEach((tx, index) => {
    txs.push({ hash: tx.hash, height, index, time, sender: tx.sender, contract: tx.contract, method: tx.method, ok: tx.ok, error: tx.error });
    stream.push({ kind: 'tx', cursor: cursorText({ height, tx: index, slot: 0 }), height, index, time, hash: tx.hash, sender: tx.sender, contract: tx.contract, method: tx.method, ok: tx.ok, error: tx.error });
    tx.events.forEach((e, j) => {
      stream.push({ kind: 'event', cursor: cursorText({ height, tx: index, slot: j + 1 }), height, index, time, txHash: tx.hash, sender: tx.sender, contract: e.contract, name: e.name, topics: e.topics, data: e.data });
      applyEvent(e, tx.hash);
    });
  });
  stream.push({ kind: 'block', cursor: cursorText({ height, tx: BLOCK_SLOT_TX, slot: 0 }), height, hash: block.hash, time, txCount: block.txs.length });

  function applyEvent(e: ChainEvent, txHash: string): void {
    const d = (e.data ?? {}) as Json;
    switch (`${e.contract}/${e.name}`) {
      case 'evidence/registered':
      case 'evidence/appended':
        evidence.set(str(d.key), {
          key: str(d.key), digest: str(d.digest), registrant: str(d.registrant), meta: str(d.meta), status: 'registered',
          height, time, txHash, chain: optStr(d.chain), index: d.chain ? num(d.index) : null, prev: optStr(d.prev),
          custody: optStr(d.custody), timestampToken: optStr(d.timestampToken), parties: [],
        });
        break;
      case 'evidence/proposed':
      case 'evidence/effective':
      case 'evidence/revoked': {
        const status = e.name === 'proposed' ? 'pending' : e.name;
        evidence.set(str(d.key), {
          key: str(d.key), digest: str(d.digest), registrant: str(d.proposer), meta: str(d.meta), status: status as EvidenceRow['status'],
          // As the chain's record says: settled (effective or revoked) at this block, by this transaction.
          height, time, txHash,
          chain: null, index: null, prev: null, custody: null, timestampToken: null, parties: Array.isArray(d.parties) ? (d.parties as string[]) : [],
        });
        break;
      }
      case 'identity/account-created':
      case 'identity/account-frozen':
      case 'identity/account-unfrozen':
        identities.set(str(d.address), {
          address: str(d.address), id: num(d.id), name: optStr(d.name), registeredBy: str(d.registeredBy),
          userPartner: str(d.userPartner), createdAt: num(d.createdAt), frozen: d.frozen === true,
        });
        break;
      case 'identity/certified': {
        const address = addr(e.topics[0]);
        certifications.set(`${address}/${str(d.partner)}`, {
          address, partner: str(d.partner), level: num(d.level), identityDigest: str(d.identityDigest), certifiedAt: num(d.certifiedAt), revoked: false,
        });
        break;
      }
      case 'identity/certification-revoked': {
        const address = addr(e.topics[0]), partner = addr(e.topics[1]);
        certifications.delete(`${address}/${partner}`);
        revocations.push({ address, partner });
        break;
      }
      case 'voucher/voucher-created':
        vouchers.push({ id: num(d.id), symbol: str(d.symbol), name: str(d.name), issuer: str(d.issuer), divisible: d.divisible === true, createdAt: num(d.createdAt) });
        break;
      case 'voucher/issued':
        delta(e.topics[0] ?? '', addr(e.topics[1]), BigInt(str(e.data) || '0'));
        break;
      case 'voucher/transferred':
        delta(e.topics[0] ?? '', addr(e.topics[1]), -BigInt(str(e.data) || '0'));
        delta(e.topics[0] ?? '', addr(e.topics[2]), BigInt(str(e.data) || '0'));
        break;
      case 'voucher/redeemed':
        delta(e.topics[0] ?? '', addr(e.topics[1]), -BigInt(str(e.data) || '0'));
        break;
      case 'voucher/item-issued':
      case 'voucher/item-transferred':
      case 'voucher/item-redeemed':
        items.set(`${e.topics[0]}/${str(d.id)}`, { symbol: e.topics[0] ?? '', itemId: str(d.id), owner: str(d.owner), redeemed: d.redeemed === true });
        break;
      default:
        break;
    }
  }

  return {
    batch: {
      height, hash: block.hash, time, stream, txs,
      evidence: [...evidence.values()], identities: [...identities.values()], certifications: [...certifications.values()],
      revocations, vouchers, items: [...items.values()],
    },
    deltas,
  };
}
