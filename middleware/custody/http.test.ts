/**
 * Custody over HTTP on an RpcServer: upload and download round trip with their headers, dedupe, the
 * size limit with and without Content-Length, the type allowlist, uploads cut short by the client or
 * by silence, damaged files whose download is cut, bad addresses, API keys and public downloads.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RpcServer, type RpcServerOptions } from '../../node/rpc/server.ts';
import { FsContentStore } from './store.ts';
import { registerCustodyRoutes, type CustodyHttpOptions, acceptedType, DEFAULT_ALLOWED_TYPES } from './http.ts';
import { custodyDigest, parseCustodyAddress } from './address.ts';
import { downloadFromCustody, uploadToCustody } from './client.ts';
import { CustodyError } from './errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'brop-custody-http-'));
let n = 0;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

interface Service { url: string; store: FsContentStore; root: string; log: Array<Record<string, unknown>>; close(): Promise<void> }

async function service(opts: Partial<CustodyHttpOptions> = {}, rpc: RpcServerOptions = {}): Promise<Service> {
  const root = join(dir, `s${n++}`);
  const log: Array<Record<string, unknown>> = [];
  const store = await FsContentStore.open(root, { onCorrupt: (e) => log.push({ event: 'quarantined', hex: e.hex }) });
  const server = new RpcServer({ port: 0, rateLimit: false, ...rpc });
  registerCustodyRoutes(server, { store, maxBytes: 1 << 20, log: (e) => log.push(e), ...opts });
  const { url } = await server.listen();
  return { url, store, root, log, close: async () => { await server.close(); await store.close(); } };
}

interface Raw { status: number; headers: http.IncomingHttpHeaders; body: Buffer; error: string | undefined }

/** One HTTP request with the path sent as written (no URL normalisation), the body written in pieces. */
function raw(url: string, method: string, path: string, opts: { headers?: Record<string, string | number>; body?: Uint8Array; piece?: number } = {}): Promise<Raw> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const parts: Buffer[] = [];
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let settled = false;
    const done = (error?: string) => {
      if (!settled) resolve({ status, headers, body: Buffer.concat(parts), error });
      settled = true;
    };
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: opts.headers ?? {} }, (res) => {
      status = res.statusCode!;
      headers = res.headers;
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => done());
      res.on('error', (e) => done(e.message));
      res.on('aborted', () => done('aborted'));
    });
    req.on('error', (e) => done((e as NodeJS.ErrnoException).code ?? e.message));
    const body = opts.body;
    if (body === undefined) return void req.end();
    const piece = opts.piece ?? 64 * 1024;
    let off = 0;
    const write = () => {
      if (settled) return;
      if (off >= body.length) return void req.end();
      const next = body.subarray(off, off + piece);
      off += next.length;
      if (req.write(next)) setImmediate(write);
      else req.once('drain', write);
    };
    write();
  });
}

const errorCode = (r: Raw) => (JSON.parse(r.body.toString()) as { error: { data: { code: string } } }).error.data.code;
const tmpFiles = (s: Service) => readdirSync(join(s.root, 'tmp'));
function storedFiles(s: Service): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk(join(d, e.name)) : out.push(e.name));
  };
  walk(join(s.root, 'sha256'));
  return out;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000, what = 'a condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('round trip: PUT answers digest, address and custody digest; GET and HEAD serve the file with its headers; 304 on its ETag', async () => {
  const s = await service({ publicUrl: 'https://Registry.Example.org:443/brop' });
  try {
    const data = randomBytes(200_000);
    const up = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/PDF', 'content-length': data.length }, body: data });
    assert.is(up.status, 201);
    const r = JSON.parse(up.body.toString()) as { digest: string; address: string; custodyDigest: string; size: number; type: string; created: boolean };
    const hex = sha(data);
    assert.equal(r, {
      digest: `0x${hex}`, address: `brop-custody:sha256:${hex}@https://registry.example.org/brop/`,
      custodyDigest: `0x${createHash('sha256').update(r.address).digest('hex')}`, size: data.length, type: 'application/pdf', created: true,
    });
    assert.is(up.headers.location, `https://registry.example.org/brop/custody/sha256/${hex}`);
    const got = await raw(s.url, 'GET', `/custody/sha256/${hex}`);
    assert.is(got.status, 200);
    assert.equal(got.body, data);
    assert.is(got.headers['content-type'], 'application/pdf');
    assert.is(got.headers['content-length'], String(data.length));
    assert.is(got.headers.etag, `"0x${hex}"`);
    assert.is(got.headers['cache-control'], 'private, max-age=31536000, immutable');
    assert.is(got.headers['repr-digest'], `sha-256=:${Buffer.from(hex, 'hex').toString('base64')}:`);
    assert.is(got.headers['x-content-type-options'], 'nosniff');
    assert.is(got.headers['content-security-policy'], undefined, 'a PDF opens in the browser\'s viewer');
    const head = await raw(s.url, 'HEAD', `/custody/sha256/${hex}`);
    assert.equal([head.status, head.headers['content-length'], head.body.length], [200, String(data.length), 0]);
    const cached = await raw(s.url, 'GET', `/custody/sha256/${hex}`, { headers: { 'if-none-match': `"0x${hex}"` } });
    assert.equal([cached.status, cached.body.length], [304, 0]);
    // POST works as PUT; the same bytes again are not stored twice.
    const again = await raw(s.url, 'POST', '/custody/', { headers: { 'content-type': 'image/png' }, body: data });
    assert.is(again.status, 200);
    assert.equal(JSON.parse(again.body.toString()), { ...r, created: false });
    assert.is(storedFiles(s).length, 2, 'one file and its record');
    assert.equal(tmpFiles(s), []);
  } finally {
    await s.close();
  }
});

test('the client: uploads and checks the answer against the file hashed locally; downloads and checks the bytes', async () => {
  const s = await service();
  try {
    const data = randomBytes(50_000);
    const blob = new Blob([data], { type: 'image/png' });
    const r = await uploadToCustody(s.url, blob);
    assert.equal([r.digest, r.size, r.type, r.created], [`0x${sha(data)}`, data.length, 'image/png', true]);
    assert.is(r.custodyDigest, custodyDigest(r.address));
    assert.is(parseCustodyAddress(r.address).base, s.url);
    const d = await downloadFromCustody(r.address, { expectedDigest: r.digest });
    assert.equal([Buffer.from(d.bytes), d.type, d.digest], [data, 'image/png', r.digest]);
    // A service whose answer does not match the file is caught.
    const lying: typeof fetch = async (url, init) => {
      const res = await fetch(url, init);
      const body = (await res.json()) as Record<string, unknown>;
      return new Response(JSON.stringify({ ...body, digest: `0x${'00'.repeat(32)}` }), { status: res.status });
    };
    const code = await uploadToCustody(s.url, data, { fetch: lying }).then(() => 'no error', (e: CustodyError) => e.code);
    assert.is(code, 'CUSTODY_DIGEST_MISMATCH');
    const wrong = await downloadFromCustody(r.address, { expectedDigest: `0x${'11'.repeat(32)}` }).then(() => 'no error', (e: CustodyError) => e.code);
    assert.is(wrong, 'CUSTODY_DIGEST_MISMATCH');
    // The service's typed errors come through with their codes and statuses.
    const refused = await uploadToCustody(s.url, data, { type: 'text/html' }).then(() => undefined, (e: CustodyError) => e);
    assert.equal([refused?.code, refused?.status], ['CUSTODY_UNSUPPORTED_TYPE', 415]);
  } finally {
    await s.close();
  }
});

test('size limit: refused with 413 before reading when Content-Length says so, mid-stream without it; no file, no temporary file', async () => {
  const s = await service({ maxBytes: 100_000 });
  try {
    const data = randomBytes(300_000);
    const declared = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf', 'content-length': data.length }, body: data });
    assert.equal([declared.status, errorCode(declared)], [413, 'CUSTODY_TOO_LARGE']);
    const chunked = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf', 'transfer-encoding': 'chunked' }, body: data, piece: 10_000 });
    assert.equal([chunked.status, errorCode(chunked)], [413, 'CUSTODY_TOO_LARGE']);
    // fetch writes a stream body whole before reading: it still gets the 413, because the server reads and
    // drains a while before it closes (closing at once shows fetch a broken pipe about half the time).
    // 8 MiB: more than the sockets' buffers take, so fetch is still writing when the server answers.
    for (let i = 0; i < 5; i++) {
      const piece = new Uint8Array(64 * 1024);
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          let sent = 0;
          const push = () => {
            if (sent >= 8 << 20) return c.close();
            sent += piece.length;
            c.enqueue(piece);
            setTimeout(push, 0);
          };
          push();
        },
      });
      const res = await fetch(new URL('custody', s.url), { method: 'PUT', body: stream, headers: { 'content-type': 'application/pdf' }, duplex: 'half' } as RequestInit);
      assert.is(res.status, 413);
      assert.is(((await res.json()) as { error: { data: { code: string } } }).error.data.code, 'CUSTODY_TOO_LARGE');
    }
    assert.equal(storedFiles(s), []);
    await until(() => tmpFiles(s).length === 0, 2000, 'temporary files to go');
    // At the limit exactly: stored.
    const fits = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf', 'transfer-encoding': 'chunked' }, body: data.subarray(0, 100_000) });
    assert.is(fits.status, 201);
  } finally {
    await s.close();
  }
});

test('types: the allowlist (default and configured, with type/*) decides; 415 otherwise; no Content-Type is octet-stream', async () => {
  const s = await service({ allowedTypes: ['application/pdf', 'image/*'] });
  try {
    const data = randomBytes(1000);
    for (const type of ['text/html', 'text/plain', 'application/octet-stream', 'not a type', 'application/pdf/x']) {
      const r = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': type }, body: data });
      assert.equal([r.status, errorCode(r)], [415, 'CUSTODY_UNSUPPORTED_TYPE'], type);
    }
    const gzipped = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf', 'content-encoding': 'gzip' }, body: data });
    assert.equal([gzipped.status, errorCode(gzipped)], [415, 'CUSTODY_UNSUPPORTED_TYPE']);
    const untyped = await raw(s.url, 'PUT', '/custody', { body: data });
    assert.equal([untyped.status, errorCode(untyped)], [415, 'CUSTODY_UNSUPPORTED_TYPE'], 'octet-stream is not on this list');
    const image = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'image/x-anything' }, body: data });
    assert.is(image.status, 201);
    const served = await raw(s.url, 'GET', `/custody/sha256/${sha(data)}`);
    assert.equal([served.headers['content-type'], served.headers['content-security-policy']], ['image/x-anything', 'sandbox']);
    assert.equal(storedFiles(s).length, 2);
  } finally {
    await s.close();
  }
  assert.is(acceptedType(undefined, DEFAULT_ALLOWED_TYPES), 'application/octet-stream');
  assert.is(acceptedType('Text/Plain; Charset="UTF-8"; x=1', DEFAULT_ALLOWED_TYPES), 'text/plain; charset=utf-8');
  assert.is(acceptedType('application/pdf; name=x', DEFAULT_ALLOWED_TYPES), 'application/pdf');
  for (const t of ['text/html', 'image/svg+xml', 'application/xml', 'application/javascript', 'text/html; charset=utf-8']) {
    assert.throws(() => acceptedType(t, DEFAULT_ALLOWED_TYPES), (e: CustodyError) => e.code === 'CUSTODY_UNSUPPORTED_TYPE', t);
  }
});

test('an upload the client abandons mid-body, or that goes silent, leaves no file and no temporary file', async () => {
  const s = await service({ idleTimeoutMs: 300 });
  try {
    const req = http.request(new URL('custody', s.url), { method: 'PUT', headers: { 'content-type': 'application/pdf', 'content-length': 500_000 } });
    req.on('error', () => undefined);
    req.write(randomBytes(200_000));
    await until(() => tmpFiles(s).length === 1, 5000, 'the upload to start');
    req.destroy();
    await until(() => s.log.some((e) => e.code === 'CUSTODY_ABORTED'), 5000, 'the abort to be noticed');
    await until(() => tmpFiles(s).length === 0, 2000, 'the temporary file to go');
    assert.equal(storedFiles(s), []);
    // Silent after a first piece: cut after idleTimeoutMs.
    const started = Date.now();
    const silent = http.request(new URL('custody', s.url), { method: 'PUT', headers: { 'content-type': 'application/pdf', 'transfer-encoding': 'chunked' } });
    const closed = new Promise<string>((resolve) => {
      silent.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
      silent.on('response', (res) => resolve(`status ${res.statusCode}`));
    });
    silent.write(randomBytes(1000));
    const how = await closed;
    assert.ok(Date.now() - started >= 250 && Date.now() - started < 3000, `cut after ${Date.now() - started} ms (${how})`);
    await until(() => s.log.length === 2, 2000, 'the server to notice');
    assert.is(s.log[1]!.code, 'CUSTODY_TIMEOUT');
    await until(() => tmpFiles(s).length === 0, 2000, 'the temporary file to go');
    assert.equal(storedFiles(s), []);
  } finally {
    await s.close();
  }
});

test('a stored file damaged on disk: its download is cut short (the client sees an error, never a complete body); then 404 until uploaded again', async () => {
  const s = await service({ maxBytes: 4 << 20 });
  try {
    const damage = (hex: string, at: number) => {
      const path = s.store.pathOf(hex);
      chmodSync(path, 0o644);
      const b = readFileSync(path);
      b[at] = b[at]! ^ 0xff;
      writeFileSync(path, b);
    };
    const quarantined = (hex: string) => until(() => !existsSync(s.store.pathOf(hex)), 2000, 'the quarantine');
    for (const [size, at] of [[100, 50], [3_000_000, 2_999_999], [3_000_000, 10]] as const) {
      const data = randomBytes(size);
      const r = await uploadToCustody(s.url, data);
      const hex = r.digest.slice(2);
      damage(hex, at);
      const got = await raw(s.url, 'GET', `/custody/sha256/${hex}`);
      assert.ok(got.error !== undefined, `${size} bytes, byte ${at}: the client saw an error (status ${got.status}, ${got.body.length} bytes)`);
      assert.ok(got.body.length < size, `${size} bytes, byte ${at}: only ${got.body.length} bytes arrived`);
      await quarantined(hex);
      assert.ok(s.log.some((e) => e.event === 'custody-corrupt' && e.digest === r.digest));
      const gone = await raw(s.url, 'GET', `/custody/sha256/${hex}`);
      assert.equal([gone.status, errorCode(gone)], [404, 'CUSTODY_NOT_FOUND']);
      // Uploaded again, it is served again; damaged again, the client helper reports the cut.
      assert.ok((await uploadToCustody(s.url, data)).created, 'uploaded again');
      assert.equal((await raw(s.url, 'GET', `/custody/sha256/${hex}`)).body, data);
      damage(hex, at);
      const viaClient = await downloadFromCustody(r.address).then(() => 'no error', (e: CustodyError) => e.code);
      assert.is(viaClient, 'CUSTODY_ABORTED');
      await quarantined(hex);
    }
  } finally {
    await s.close();
  }
});

test('bad addresses: traversal, wrong length, not lower-case hex, other paths → 400 CUSTODY_BAD_ADDRESS; unknown → 404', async () => {
  const s = await service();
  try {
    writeFileSync(join(s.root, 'secret'), 'x');
    const hex = sha(Buffer.from('nothing stored'));
    const bad = [
      '/custody/sha256/../../custody-store.json', '/custody/sha256/..%2f..%2fcustody-store.json', '/custody/sha256/%2e%2e/secret',
      `/custody/sha256/${hex.slice(0, 63)}`, `/custody/sha256/${hex}0`, `/custody/sha256/${hex.toUpperCase()}`, `/custody/sha256/${'g'.repeat(64)}`,
      `/custody/sha256/0x${hex.slice(2)}`, `/custody/sha256/${hex}/`, `/custody/sha256/${hex}.json`, `/custody/sha512/${hex}`, `/custody/${hex}`,
      '/custody/tmp/x', '/custody/sha256/', '/custody//sha256/' + hex,
    ];
    for (const path of bad) {
      const r = await raw(s.url, 'GET', path);
      assert.equal([r.status, errorCode(r)], [400, 'CUSTODY_BAD_ADDRESS'], path);
    }
    const missing = await raw(s.url, 'GET', `/custody/sha256/${hex}`);
    assert.equal([missing.status, errorCode(missing)], [404, 'CUSTODY_NOT_FOUND']);
    assert.is((await raw(s.url, 'GET', '/custody')).status, 404);
    const put = await raw(s.url, 'PUT', `/custody/sha256/${hex}`, { headers: { 'content-type': 'application/pdf' }, body: Buffer.from('x') });
    assert.equal([put.status, errorCode(put)], [404, 'CUSTODY_NOT_FOUND']);
    for (const address of ['brop-custody:sha256:../x@http://a/', `brop-custody:sha256:${hex}@http://a/?q`, `brop-custody:sha256:${hex.toUpperCase()}@http://a/`, `brop-custody:sha256:${hex}@file:///etc/`]) {
      const code = await downloadFromCustody(address).then(() => 'no error', (e: CustodyError) => e.code);
      assert.is(code, 'CUSTODY_BAD_ADDRESS', address);
    }
  } finally {
    await s.close();
  }
});

test('API keys: uploads need one; downloads too unless public; CORS preflight passes without one', async () => {
  const key = 'partner-secret';
  const apiKeys = [{ name: 'p', keyHash: createHash('sha256').update(key).digest('hex'), rateLimit: { perSecond: 100, burst: 100 } }];
  const data = randomBytes(1000);
  const hex = sha(data);
  for (const publicDownloads of [false, true]) {
    const s = await service({ publicDownloads }, { apiKeys, allowedOrigins: ['https://app.example.org'] });
    try {
      const anon = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf' }, body: data });
      assert.equal([anon.status, errorCode(anon)], [401, 'RPC_UNAUTHORIZED']);
      const keyed = await uploadToCustody(s.url, data, { apiKey: key });
      assert.is(keyed.digest, `0x${hex}`);
      const get = await raw(s.url, 'GET', `/custody/sha256/${hex}`);
      assert.is(get.status, publicDownloads ? 200 : 401);
      if (publicDownloads) assert.is(get.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.is((await raw(s.url, 'GET', `/custody/sha256/${hex}`, { headers: { 'x-api-key': key } })).status, 200);
      const pre = await raw(s.url, 'OPTIONS', '/custody', { headers: { origin: 'https://app.example.org', 'access-control-request-method': 'PUT' } });
      assert.equal([pre.status, pre.headers['access-control-allow-origin']], [204, 'https://app.example.org']);
      assert.match(String(pre.headers['access-control-allow-headers']), /x-api-key/);
      assert.is((await raw(s.url, 'OPTIONS', '/custody', { headers: { origin: 'https://evil.example.org' } })).status, 403);
    } finally {
      await s.close();
    }
  }
});

test('custody\'s own upload keys: uploads need one (with its rate limit) on a server that has no keys; everything else stays open', async () => {
  const key = 'custody-key';
  const s = await service({ uploadKeys: [{ name: 'partner-a', keyHash: createHash('sha256').update(key).digest('hex'), rateLimit: { perSecond: 0.001, burst: 2 } }] });
  try {
    const data = randomBytes(5000);
    for (const headers of [{}, { 'x-api-key': 'wrong' }, { authorization: 'Bearer wrong' }] as Array<Record<string, string>>) {
      const r = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf', ...headers }, body: data });
      assert.equal([r.status, errorCode(r)], [401, 'RPC_UNAUTHORIZED'], JSON.stringify(headers));
    }
    assert.equal(storedFiles(s), []);
    const ok = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf', authorization: `Bearer ${key}` }, body: data });
    assert.is(ok.status, 201);
    assert.ok(s.log.some((e) => e.event === 'custody-stored' && e.uploader === 'partner-a'), 'the uploader is named in the log');
    assert.is((await uploadToCustody(s.url, data, { apiKey: key })).created, false);
    const limited = await raw(s.url, 'PUT', '/custody', { headers: { 'content-type': 'application/pdf', 'x-api-key': key }, body: data });
    assert.equal([limited.status, errorCode(limited)], [429, 'RPC_RATE_LIMITED']);
    assert.ok(Number(limited.headers['retry-after']) >= 1);
    assert.is((await raw(s.url, 'GET', `/custody/sha256/${sha(data)}`)).status, 200, 'downloads need no key on a server without keys');
  } finally {
    await s.close();
  }
});

test('configuration mistakes are refused up front', async () => {
  const server = new RpcServer({ port: 0 });
  const store = await FsContentStore.open(join(dir, `s${n++}`));
  try {
    for (const bad of [{ maxBytes: 0 }, { maxBytes: 1.5 }, { allowedTypes: ['pdf'] }, { publicUrl: 'ftp://x/' }, { publicUrl: 'https://u:p@x/' }, { publicUrl: 'https://x/?a=1' }, { uploadKeys: [{ name: 'k', keyHash: 'abc' }] }]) {
      assert.throws(() => registerCustodyRoutes(server, { store, ...bad }), (e: CustodyError) => e.code === 'CUSTODY_BAD_CONFIG', JSON.stringify(bad));
    }
  } finally {
    await server.close();
    await store.close();
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
