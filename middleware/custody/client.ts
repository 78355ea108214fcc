/**
 * The partner's side of custody (browser-safe: fetch, Blob and @noble only). The service never holds a
 * partner's keys, so registering is the partner's own transaction:
 *
 *   const receipt = await uploadToCustody('https://registry.example.org/', file, { apiKey });
 *   // sign and send evidence.register(...evidenceRegisterArgs('contract-2024-17', receipt)) with the partner's key
 *
 * The upload checks the service's answer against the file hashed here: the digest and custody digest a
 * partner puts on chain never rest on the service's word.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { custodyDigest, digestHex, downloadUrl, parseCustodyAddress, toHex } from './address.ts';
import { CustodyError } from './errors.ts';

export interface CustodyReceipt {
  /** The file's SHA-256 (0x-hex): evidence.register's `digest`. */
  digest: string;
  /** Where it is kept (docs/custody.md): `brop-custody:sha256:<hex>@<base URL>`. */
  address: string;
  /** SHA-256 of the address (0x-hex): evidence.register's `custody`. */
  custodyDigest: string;
  size: number;
  /** The Content-Type the service recorded (the first uploader's, for a file it already kept). */
  type: string;
  /** False when the service already kept this file. */
  created: boolean;
}

export interface CustodyRequestOptions {
  /** The service's API key, when it has keys (header x-api-key). */
  apiKey?: string;
  /** Another fetch (tests, a proxy); default the global one. */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

export type CustodyFile = Uint8Array | ArrayBuffer | Blob;

/**
 * Uploads `file` to the custody service at `serviceUrl` (the middleware's base URL, e.g.
 * http://127.0.0.1:8650/). `type`: its media type (default: a Blob's own type, else application/octet-stream).
 */
export async function uploadToCustody(serviceUrl: string, file: CustodyFile, opts: CustodyRequestOptions & { type?: string } = {}): Promise<CustodyReceipt> {
  const local = await hashFile(file);
  const type = opts.type ?? (file instanceof Blob && file.type !== '' ? file.type : 'application/octet-stream');
  const url = new URL('custody', serviceUrl.endsWith('/') ? serviceUrl : `${serviceUrl}/`);
  const res = await request(opts, url.href, {
    method: 'PUT',
    body: file instanceof Blob ? file : file instanceof Uint8Array ? file : new Uint8Array(file),
    headers: { 'content-type': type, ...keyHeader(opts) },
  });
  if (!res.ok) throw await errorOf(res);
  let body: Record<string, unknown>;
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch (e) {
    throw new CustodyError('CUSTODY_BAD_RESPONSE', 'the custody service answered with something that is not JSON', { status: res.status, cause: e });
  }
  const { digest, address, size } = body;
  if (typeof digest !== 'string' || typeof address !== 'string' || typeof body.custodyDigest !== 'string' ||
      typeof size !== 'number' || typeof body.type !== 'string' || typeof body.created !== 'boolean') {
    throw new CustodyError('CUSTODY_BAD_RESPONSE', 'the custody service\'s answer lacks digest, address, custodyDigest, size, type or created', { status: res.status });
  }
  let parsed;
  try {
    parsed = parseCustodyAddress(address);
  } catch (e) {
    throw new CustodyError('CUSTODY_BAD_RESPONSE', `the custody service answered with a bad address: ${(e as Error).message}`, { status: res.status });
  }
  const expected = custodyDigest(address);
  if (digest.toLowerCase() !== `0x${local.hex}` || parsed.hex !== local.hex || size !== local.size || body.custodyDigest.toLowerCase() !== expected) {
    throw new CustodyError('CUSTODY_DIGEST_MISMATCH', `the custody service's answer does not match the file (sha256:${local.hex}, ${local.size} bytes)`, { status: res.status });
  }
  return { digest: `0x${local.hex}`, address, custodyDigest: expected, size, type: body.type, created: body.created };
}

/** evidence.register's arguments for a file in custody: (key, digest, meta, timestampToken, custody). */
export function evidenceRegisterArgs(key: string, receipt: Pick<CustodyReceipt, 'digest' | 'custodyDigest'>, opts: { meta?: string; timestampToken?: string | null } = {}): [string, string, string, string | null, string] {
  return [key, receipt.digest, opts.meta ?? '', opts.timestampToken ?? null, receipt.custodyDigest];
}

/**
 * Downloads the file at a custody address and checks it against the address's digest (and
 * `expectedDigest`, e.g. the evidence record's, when given): CUSTODY_DIGEST_MISMATCH otherwise,
 * CUSTODY_ABORTED if the service cut the download short (it does when its copy is damaged).
 */
export async function downloadFromCustody(address: string, opts: CustodyRequestOptions & { expectedDigest?: string } = {}): Promise<{ bytes: Uint8Array; type: string; digest: string }> {
  const a = parseCustodyAddress(address);
  if (opts.expectedDigest !== undefined && digestHex(opts.expectedDigest) !== a.hex) {
    throw new CustodyError('CUSTODY_DIGEST_MISMATCH', `the address names sha256:${a.hex}, not the expected ${opts.expectedDigest}`);
  }
  const res = await request(opts, downloadUrl(a), { method: 'GET', headers: keyHeader(opts) });
  if (!res.ok) throw await errorOf(res);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw new CustodyError('CUSTODY_ABORTED', 'the download was cut short', { status: res.status, cause: e });
  }
  const hex = toHex(sha256(bytes));
  if (hex !== a.hex) throw new CustodyError('CUSTODY_DIGEST_MISMATCH', `the downloaded file hashes to sha256:${hex}, not sha256:${a.hex}`, { status: res.status });
  return { bytes, type: res.headers.get('content-type') ?? 'application/octet-stream', digest: `0x${hex}` };
}

/** SHA-256 and size of a file, read in chunks (a Blob is never loaded whole). */
export async function hashFile(file: CustodyFile): Promise<{ hex: string; size: number }> {
  if (!(file instanceof Blob)) {
    const bytes = file instanceof Uint8Array ? file : new Uint8Array(file);
    return { hex: toHex(sha256(bytes)), size: bytes.length };
  }
  const h = sha256.create();
  let size = 0;
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    h.update(value);
    size += value.length;
  }
  return { hex: toHex(h.digest()), size };
}

function keyHeader(opts: CustodyRequestOptions): Record<string, string> {
  return opts.apiKey ? { 'x-api-key': opts.apiKey } : {};
}

async function request(opts: CustodyRequestOptions, url: string, init: RequestInit): Promise<Response> {
  try {
    return await (opts.fetch ?? fetch)(url, { ...init, ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (e) {
    if ((e as { name?: string }).name === 'AbortError') throw e;
    throw new CustodyError('CUSTODY_UNAVAILABLE', `cannot reach the custody service at ${url}: ${(e as Error).message}`, { cause: e });
  }
}

/** The service's typed JSON error ({error: {message, data: {code}}}), or a status-only one. */
async function errorOf(res: Response): Promise<CustodyError> {
  let code = `HTTP_${res.status}`;
  let message = `the custody service answered ${res.status}`;
  let data: Record<string, unknown> | undefined;
  try {
    const j = (await res.json()) as { error?: { message?: unknown; data?: Record<string, unknown> } };
    if (typeof j.error?.data?.code === 'string') code = j.error.data.code;
    if (typeof j.error?.message === 'string') message = j.error.message;
    data = j.error?.data;
  } catch {
    // not JSON: the status says it all
  }
  return new CustodyError(code, message, { status: res.status, ...(data ? { data } : {}) });
}
