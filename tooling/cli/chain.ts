/**
 * Chain commands: `brop init`, `brop start`, `brop keys`, `brop tx`, `brop call`, `brop status`.
 * The client commands talk to a node over RPC (--rpc URL, or the URL in --home's config, or the
 * default local one) and encode JSON arguments through the contract's ABI, fetched from the node.
 */
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { RpcClient } from '../../node/rpc/client.ts';
import { accountAddress } from '../../contracts/system/index.ts';
import { BropClient, type ClientOptions } from '../../middleware/sdk/index.ts';
import { loadWallet } from '../../middleware/sdk/node.ts';
import { keyFileOf, newKeyPair, readKeyFile, writeKeyFile } from '../../node/keys/key-file.ts';
import { type PasswordSource, KeystoreError, isKeystoreFile, readKeystore, readNewPassword, readPassword, writeKeystore } from '../../node/keys/keystore.ts';
import { Pkcs11Signer } from '../../node/keys/pkcs11.ts';
import { hex } from '../../node/chain/hash.ts';
import { type CustodyConfig, DEFAULT_RPC_PORT, HomeError, checkConfig, custodyDir, initHome, initNetwork, initNodeHome, loadHome } from '../../node/home.ts';
import { reloadDenyPeers, startRuntime, type NodeRuntime } from '../../node/runtime.ts';
import { StatusLine } from '../../node/consensus/sync-progress.ts';
import { onJsonLines } from '../nodes/processes.ts';
import { startMiddleware, openIndexStore, type CustodyOptions, type Middleware } from '../../middleware/service.ts';
import { NodeSource } from '../../middleware/indexer/source.ts';
import { CliError, toJson } from './output.ts';

const print = (v: unknown) => process.stdout.write(`${toJson(v)}\n`);

/** The folder `npm start` uses when no --home is given. */
export const DEFAULT_HOME = '.brop/local';

function parse(argv: string[], options: ParseArgsOptionsConfig, usage: string) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CliError('CLI_USAGE', `${(e as Error).message}\nusage: ${usage}`);
  }
}

export async function runInit(argv: string[]): Promise<number> {
  const usage = 'brop init --home DIR [--chain-id ID] [--rpc-port N] [--block-time MS] [--validators N [--base-port P]] | brop init --home DIR --genesis FILE --peers ADDR[,ADDR..] [--rpc-port N] [--p2p-listen ADDR]';
  const { values } = parse(argv, {
    home: { type: 'string' }, 'chain-id': { type: 'string' }, 'rpc-port': { type: 'string' }, 'block-time': { type: 'string' },
    validators: { type: 'string' }, 'base-port': { type: 'string' }, genesis: { type: 'string' }, peers: { type: 'string' }, 'p2p-listen': { type: 'string' },
  }, usage);
  if (!values.home) throw new CliError('CLI_USAGE', `--home is required\nusage: ${usage}`);
  if (values.genesis !== undefined) {
    // A full (or proxy) node for a chain that runs already.
    if (values.validators !== undefined || values['chain-id'] !== undefined || values['block-time'] !== undefined) {
      throw new CliError('CLI_USAGE', `--genesis joins a chain that exists: its id, validators and block time are the genesis file's\nusage: ${usage}`);
    }
    if (!values.peers) throw new CliError('CLI_USAGE', `--peers is required with --genesis: the multiaddrs (ending in /p2p/PEER_ID) of nodes of the chain\nusage: ${usage}`);
    const r = await initNodeHome(String(values.home), {
      genesisFile: String(values.genesis), peers: String(values.peers).split(',').map((p) => p.trim()).filter(Boolean),
      rpcPort: values['rpc-port'] !== undefined ? port(values['rpc-port'] as string) : undefined,
      p2pListen: values['p2p-listen'] as string | undefined,
    });
    print({ ok: true, home: r.home, chainId: r.genesis.chainId, role: 'full-node', rpc: `http://${r.config.rpc.host}:${r.config.rpc.port}/`, p2p: r.config.p2p });
    return 0;
  }
  if (values.validators !== undefined) {
    const r = await initNetwork(String(values.home), {
      validators: positive(String(values.validators), '--validators'),
      chainId: values['chain-id'] as string | undefined,
      basePort: values['base-port'] ? port(String(values['base-port'])) : undefined,
      params: values['block-time'] ? { blockTimeMs: positive(values['block-time'] as string, '--block-time') } : undefined,
    });
    print({ ok: true, dir: r.dir, chainId: r.genesis.chainId, operatorKey: r.operatorKey, homes: r.homes });
    return 0;
  }
  const r = await initHome(String(values.home), {
    chainId: values['chain-id'] as string | undefined,
    rpcPort: values['rpc-port'] !== undefined ? port(values['rpc-port'] as string) : undefined,
    params: values['block-time'] ? { blockTimeMs: positive(values['block-time'] as string, '--block-time') } : undefined,
  });
  print({ ok: true, home: r.home, chainId: r.genesis.chainId, operatorKey: r.operatorKey, validatorKey: r.validatorKey, genesis: join(r.home, 'genesis.json') });
  return 0;
}

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError('CLI_USAGE', '--rpc-port must be 0 (any free port) to 65535');
  return n;
}

function positive(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new CliError('CLI_USAGE', `${what} must be a positive integer`);
  return n;
}

/**
 * Runs a node until SIGINT/SIGTERM; on SIGHUP a node of a p2p network re-reads its deny list. Without
 * --home: the default home, created on first run (npm start).
 */
export async function runNode(argv: string[]): Promise<number> {
  const usage = 'brop start [--home DIR] [--rpc-port N] [--middleware-port N] [--password-file F] [--no-progress]';
  const { values } = parse(argv, { home: { type: 'string' }, 'rpc-port': { type: 'string' }, 'middleware-port': { type: 'string' }, 'password-file': { type: 'string' }, 'no-progress': { type: 'boolean' } }, usage);
  const homeDir = resolve(String(values.home ?? DEFAULT_HOME));
  const rpcPort = values['rpc-port'] !== undefined ? port(values['rpc-port'] as string) : undefined;
  const middlewarePort = values['middleware-port'] !== undefined ? port(values['middleware-port'] as string) : undefined;
  if (!existsSync(join(homeDir, 'genesis.json'))) {
    if (values.home) throw new CliError('HOME_INVALID', `${homeDir} has no genesis.json: run brop init --home ${values.home} first`);
    const r = await initHome(homeDir);
    print({ event: 'home-created', home: r.home, chainId: r.genesis.chainId, operatorKey: r.operatorKey });
  }
  const home = loadHome(homeDir);
  // The sync progress bar: only on a terminal; log lines printed to the same terminal go above it.
  const statusLine = process.stderr.isTTY && !values['no-progress'] ? new StatusLine(process.stderr) : undefined;
  const log = (event: Record<string, unknown>) => (statusLine && process.stdout.isTTY ? statusLine.around(() => print(event)) : print(event));
  let runtime: NodeRuntime;
  try {
    // An encrypted validator key's password: --password-file, else BROP_KEY_PASSWORD, else the terminal.
    const password: PasswordSource = { file: values['password-file'] as string | undefined, env: 'BROP_KEY_PASSWORD', prompt: true };
    runtime = await startRuntime(home, { rpcPort, log, statusLine, password });
  } catch (e) {
    if ((e as { code?: string }).code === 'EADDRINUSE') throw new CliError('RPC_LISTEN_FAILED', `cannot listen on ${home.config.rpc.host}:${rpcPort ?? home.config.rpc.port}: ${(e as Error).message}`);
    // libp2p's word for a listen address it could not bind (in use, or not this machine's).
    if ((e as Error).name === 'UnsupportedListenAddressesError') throw new CliError('P2P_LISTEN_FAILED', `cannot listen for peers on ${home.config.p2p?.listen.join(', ')}: in use, or not an address of this machine (p2p.listen in config.json)`);
    throw e;
  }
  const { node } = runtime;
  let middleware: Middleware | undefined;
  const mw = home.config.middleware;
  if (mw) {
    try {
      middleware = await startMiddleware({
        source: new NodeSource(node),
        store: await openIndexStore(mw.postgres ? { postgres: mw.postgres } : { dir: join(home.dataDir, 'index') }),
        rpc: { host: mw.host, port: middlewarePort ?? mw.port, ...(mw.allowedOrigins !== undefined ? { allowedOrigins: mw.allowedOrigins } : {}) }, log,
        nodeRpc: { url: runtime.rpc.url }, site: mw.site !== false,
        ...(mw.custody ? { custody: custodyOptions(home.home, mw.custody) } : {}),
      });
    } catch (e) {
      await runtime.stop();
      if ((e as { code?: string }).code === 'EADDRINUSE') {
        throw new CliError('MIDDLEWARE_LISTEN_FAILED', `the middleware cannot listen on ${mw.host}:${middlewarePort ?? mw.port} (${(e as Error).message}): another node's middleware there? give --middleware-port N, or change middleware.port in config.json`);
      }
      throw e;
    }
  }
  log({
    event: 'started', chainId: node.params.chainId, height: node.height, rpc: runtime.rpc.url, ws: runtime.rpc.wsUrl, home: home.home,
    middleware: middleware ? { rpc: middleware.url, ws: middleware.wsUrl, custody: middleware.custody ? `${middleware.url}custody` : null } : null,
    operatorKey: existsSync(join(home.home, 'keys', 'operator.json')) ? join(home.home, 'keys', 'operator.json') : null,
    role: runtime.role, validator: runtime.role === 'validator', p2p: runtime.network?.addresses() ?? null, blockTimeMs: node.params.blockTimeMs,
  });
  // Only with a network: a solo node keeps SIGHUP's default (its terminal closed, it stops).
  const reload = () => void reloadDenyPeers(home, runtime, log);
  if (runtime.network) process.on('SIGHUP', reload);
  await new Promise<void>((done) => {
    const stop = () => done();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await middleware?.stop();
  process.off('SIGHUP', reload);
  await runtime.stop();
  log({ event: 'stopped', height: node.height });
  return 0;
}

export async function runKeys(argv: string[]): Promise<number> {
  const usage = 'brop keys new --out FILE [--encrypt [--password-file F]] [--force] | brop keys show FILE [--password-file F] | brop keys encrypt FILE [--out F] [--password-file F]  (password also from BROP_KEY_PASSWORD or the terminal)';
  const [sub, ...rest] = argv;
  if (sub === 'hsm') {
    // A validator key made on (or found on) an HSM token; the PIN from BROP_HSM_PIN or the terminal.
    const { values: v } = parse(rest, { module: { type: 'string' }, token: { type: 'string' }, 'key-label': { type: 'string' } }, 'brop keys hsm --module SO --token LABEL --key-label LABEL');
    if (!v.module || !v.token || !v['key-label']) throw new CliError('CLI_USAGE', 'usage: brop keys hsm --module SO --token LABEL --key-label LABEL');
    const pin = process.env.BROP_HSM_PIN ?? await readPassword({ prompt: true }, `token ${v.token}`);
    const signer = Pkcs11Signer.open({ module: String(v.module), token: String(v.token), keyLabel: String(v['key-label']), pin }, { create: true });
    signer.close();
    print({ ok: true, token: v.token, keyLabel: v['key-label'], address: `0x${hex(accountAddress(signer.publicKey))}`, publicKey: `0x${hex(signer.publicKey)}` });
    return 0;
  }
  const { values, positionals } = parse(rest, { out: { type: 'string' }, force: { type: 'boolean' }, encrypt: { type: 'boolean' }, 'password-file': { type: 'string' } }, usage);
  const password: PasswordSource = { file: values['password-file'] as string | undefined, env: 'BROP_KEY_PASSWORD', prompt: true };
  if (sub === 'new') {
    if (!values.out) throw new CliError('CLI_USAGE', `--out FILE is required\nusage: ${usage}`);
    const out = resolve(String(values.out));
    const f = values.encrypt
      ? writeKeystore(out, newKeyPair(), await readNewPassword(password, out), { overwrite: values.force === true })
      : writeKeyFile(out, newKeyPair(), { overwrite: values.force === true });
    print({ ok: true, file: out, encrypted: values.encrypt === true, address: f.address, publicKey: f.publicKey });
    return 0;
  }
  if (sub === 'encrypt' && positionals[0]) {
    // A plain key file (one `init` wrote, say) into a keystore: in place by default, so a home's
    // config.json, which names the file, needs no change; the plain key is not kept.
    const path = resolve(positionals[0]);
    if (isKeystoreFile(path)) throw new KeystoreError('KEYSTORE_ALREADY_ENCRYPTED', `${path} is an encrypted keystore already: nothing to encrypt`);
    const key = readKeyFile(path);
    const out = values.out ? resolve(String(values.out)) : path;
    const f = writeKeystore(out, key, await readNewPassword(password, out), { overwrite: out === path || values.force === true });
    print({ ok: true, file: out, encrypted: true, address: f.address, publicKey: f.publicKey });
    return 0;
  }
  if (sub === 'show' && positionals[0]) {
    const path = resolve(positionals[0]);
    const encrypted = isKeystoreFile(path); // otherwise readKeyFile says what the file is not
    const f = keyFileOf(encrypted ? await readKeystore(path, password) : readKeyFile(path));
    print({ file: path, encrypted, address: f.address, publicKey: f.publicKey });
    return 0;
  }
  throw new CliError('CLI_USAGE', `usage: ${usage}`);
}

function rpcUrl(values: Record<string, unknown>): string {
  if (typeof values.rpc === 'string') return values.rpc;
  if (typeof values.home === 'string') {
    const h = loadHome(String(values.home));
    return `http://${h.config.rpc.host}:${h.config.rpc.port}`;
  }
  return `http://127.0.0.1:${DEFAULT_RPC_PORT}`;
}

function apiKey(values: Record<string, unknown>): string | undefined {
  return typeof values['api-key'] === 'string' ? values['api-key'] : process.env.BROP_API_KEY;
}

/** A client for the node (--rpc, --home or the default), with the partner's API key (--api-key or BROP_API_KEY) for proxy nodes. */
export function rpcClient(values: Record<string, unknown>, opts: { timeoutMs?: number } = {}): RpcClient {
  const key = apiKey(values);
  return new RpcClient(rpcUrl(values), { ...opts, headers: key ? { 'x-api-key': key } : undefined });
}

/** The partner SDK's client for the same node: `brop tx` and `brop call` are its users like any application. */
export function sdkClient(values: Record<string, unknown>, options: Omit<ClientOptions, 'url' | 'apiKey'> = {}): BropClient {
  return new BropClient({ url: rpcUrl(values), apiKey: apiKey(values), ...options });
}

function jsonArgs(text: unknown): unknown[] | Record<string, unknown> {
  if (text === undefined) return [];
  let v: unknown;
  try {
    v = JSON.parse(String(text));
  } catch (e) {
    throw new CliError('CLI_USAGE', `--args is not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null) throw new CliError('CLI_USAGE', '--args must be a JSON array (positional) or object (by name)');
  return v as unknown[] | Record<string, unknown>;
}

export async function runTx(argv: string[]): Promise<number> {
  const usage = 'brop tx CONTRACT METHOD --args JSON --key FILE [--password-file F] [--rpc URL | --home DIR] [--valid-for BLOCKS] [--no-wait]';
  const { values, positionals } = parse(argv, {
    args: { type: 'string' }, key: { type: 'string' }, rpc: { type: 'string' }, home: { type: 'string' },
    'valid-for': { type: 'string' }, 'no-wait': { type: 'boolean' }, 'api-key': { type: 'string' }, 'password-file': { type: 'string' },
  }, usage);
  const [contract, method] = positionals;
  if (!contract || !method || !values.key) throw new CliError('CLI_USAGE', `usage: ${usage}`);
  // A key file or an encrypted keystore (password from --password-file, BROP_KEY_PASSWORD or the terminal).
  const wallet = await loadWallet(resolve(String(values.key)), { passwordFile: values['password-file'] as string | undefined, prompt: true });
  const validFor = values['valid-for'] ? positive(String(values['valid-for']), '--valid-for') : undefined;
  const client = sdkClient(values, { wallet, validFor });
  try {
    const signed = await client.buildTx(contract, method, jsonArgs(values.args));
    let pending: Awaited<ReturnType<typeof client.sendTx>>;
    try {
      pending = await client.sendTx(signed);
    } catch (e) {
      // The node may have taken it before the answer was lost: name the transaction, so it can be looked up.
      const code = (e as { code?: string }).code;
      if (code === 'RPC_TRANSPORT_ERROR' || code === 'RPC_TIMEOUT') throw new CliError(code, `${(e as Error).message}; transaction ${signed.hash} may have been accepted before the answer was lost (ask the node: tx_get)`);
      throw e;
    }
    if (values['no-wait']) {
      print({ hash: pending.hash, status: 'pending', validUntilBlock: pending.validUntilBlock });
      return 0;
    }
    // Submit and wait: a transaction always ends committed (with its receipt) or expired. If the node
    // goes away meanwhile the wait goes on (the transaction is pending there); stderr says so.
    process.stderr.write(`${toJson({ event: 'accepted', hash: pending.hash, validUntilBlock: pending.validUntilBlock, note: 'waiting for the block' })}\n`);
    let lost = false;
    client.onConnection((state) => {
      if (state === 'reconnecting' && !lost) process.stderr.write(`${toJson({ event: 'connection-lost', rpc: rpcUrl(values), hash: pending.hash, note: 'still waiting: the transaction is pending on the node; retrying' })}\n`);
      if (state === 'open' && lost) process.stderr.write(`${toJson({ event: 'connection-back', rpc: rpcUrl(values) })}\n`);
      if (state === 'reconnecting' || state === 'open') lost = state === 'reconnecting';
    });
    const final = await pending.outcome();
    print(final);
    return final.status === 'committed' && final.receipt.status === 'ok' ? 0 : 1;
  } finally {
    await client.close();
  }
}

export async function runCall(argv: string[]): Promise<number> {
  const usage = 'brop call CONTRACT METHOD [--args JSON] [--caller ADDRESS] [--rpc URL | --home DIR]';
  const { values, positionals } = parse(argv, { args: { type: 'string' }, rpc: { type: 'string' }, home: { type: 'string' }, caller: { type: 'string' }, 'api-key': { type: 'string' } }, usage);
  const [contract, method] = positionals;
  if (!contract || !method) throw new CliError('CLI_USAGE', `usage: ${usage}`);
  const client = sdkClient(values, { wsUrl: false });
  const { value: _decoded, contract: _name, ...r } = await client.callResult(contract, method, jsonArgs(values.args), values.caller ? { caller: String(values.caller) } : {});
  print(r);
  return r.ok ? 0 : 1;
}

export async function runStatus(argv: string[]): Promise<number> {
  const { values } = parse(argv, { rpc: { type: 'string' }, home: { type: 'string' }, 'api-key': { type: 'string' } }, 'brop status [--rpc URL | --home DIR] [--api-key KEY]');
  print(await rpcClient(values).call('chain_status'));
  return 0;
}

/** `brop devnet`: a chain of N validators and a full node as separate processes on loopback. */
export async function runDevnet(argv: string[]): Promise<number> {
  const usage = 'brop devnet [--dir DIR] [--validators N] [--block-time MS] [--base-port P] [--chain-id ID]';
  const { values } = parse(argv, { dir: { type: 'string' }, validators: { type: 'string' }, 'block-time': { type: 'string' }, 'base-port': { type: 'string' }, 'chain-id': { type: 'string' } }, usage);
  const dir = resolve(String(values.dir ?? '.brop/devnet'));
  if (!existsSync(join(dir, 'operator.json'))) {
    const r = await initNetwork(dir, {
      validators: values.validators ? positive(String(values.validators), '--validators') : 4,
      // Two devnets on one machine (or a devnet and a test chain) need different ids: transactions signed for one are refused by the other.
      chainId: values['chain-id'] === undefined ? 'brop-devnet' : String(values['chain-id']),
      basePort: values['base-port'] ? port(String(values['base-port'])) : undefined,
      params: values['block-time'] ? { blockTimeMs: positive(String(values['block-time']), '--block-time') } : undefined,
    });
    print({ event: 'devnet-created', dir: r.dir, chainId: r.genesis.chainId, operatorKey: r.operatorKey });
  } else {
    const ignored = ['validators', 'block-time', 'base-port', 'chain-id'].filter((o) => values[o] !== undefined).map((o) => `--${o}`);
    if (ignored.length > 0) print({ event: 'warning', message: `${dir} exists: ${ignored.join(', ')} only apply when it is created (remove it, or give another --dir)` });
  }
  let stopping = false;
  const homes = readdirSync(dir).filter((n) => existsSync(join(dir, n, 'genesis.json'))).sort();
  const children = homes.map((name) => {
    // Several nodes share this terminal: none draws a progress bar on it.
    const child = spawn(process.execPath, [fileURLToPath(new URL('./main.ts', import.meta.url)), 'start', '--home', join(dir, name), '--no-progress'], { stdio: ['ignore', 'pipe', 'inherit'] });
    onJsonLines(child.stdout!, (j) => {
      if (j.event === 'started') print({ event: 'node-started', node: name, pid: child.pid, role: j.role, rpc: j.rpc, ws: j.ws, ...(j.middleware ? { middleware: j.middleware } : {}) });
      else if (j.event === 'error' || j.event === 'warning') print({ node: name, ...j });
    });
    // Listened for from the start: a node killed before Ctrl-C has exited already when the devnet stops.
    const exited = new Promise<void>((r) => child.once('exit', (code, signal) => {
      if (!stopping) print({ event: 'node-exited', node: name, code, signal });
      r();
    }));
    return { child, exited };
  });
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  stopping = true;
  for (const c of children) c.child.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
  print({ event: 'devnet-stopped' });
  return 0;
}

/** The custody options of `brop start` from a home's config (keys as the server takes them). */
function custodyOptions(home: string, c: CustodyConfig): CustodyOptions {
  const { apiKeys, dir: _dir, ...rest } = c;
  return {
    ...rest, dir: custodyDir(home, c),
    ...(apiKeys?.length ? { uploadKeys: apiKeys.map((k) => ({ name: k.name, keyHash: k.keyHash, rateLimit: { perSecond: k.perSecond, burst: k.burst } })) } : {}),
  };
}

/**
 * `brop apikey new --home DIR --name PARTNER [--per-second N] [--burst N] [--custody]`: a partner's
 * API key for a proxy node (or, with --custody, for uploads to the custody service `brop start` runs).
 * Only its hash is stored (config.json); the key is printed once.
 */
export async function runApiKey(argv: string[]): Promise<number> {
  const usage = 'brop apikey new --home DIR --name PARTNER [--per-second 50] [--burst 100] [--custody]';
  const [sub, ...rest] = argv;
  const { values } = parse(rest, { home: { type: 'string' }, name: { type: 'string' }, 'per-second': { type: 'string' }, burst: { type: 'string' }, custody: { type: 'boolean' } }, usage);
  if (sub !== 'new' || !values.home || !values.name) throw new CliError('CLI_USAGE', `usage: ${usage}`);
  const file = join(resolve(String(values.home)), 'config.json');
  if (!existsSync(file)) throw new CliError('HOME_INVALID', `${file} is missing`);
  type Keys = { apiKeys?: Array<{ name: string; keyHash: string; perSecond: number; burst: number }> };
  let config: { rpc: Keys; middleware?: { custody?: Keys } };
  try {
    config = checkConfig(JSON.parse(readFileSync(file, 'utf8')));
  } catch (e) {
    if (e instanceof HomeError) throw e;
    throw new CliError('HOME_INVALID', `${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (values.custody && config.middleware?.custody === undefined) throw new CliError('HOME_INVALID', `${file} has no middleware.custody section`);
  const section = values.custody ? config.middleware!.custody! : config.rpc;
  const key = randomBytes(24).toString('base64url');
  section.apiKeys = [...(section.apiKeys ?? []).filter((k) => k.name !== values.name), {
    name: String(values.name), keyHash: createHash('sha256').update(key).digest('hex'),
    perSecond: values['per-second'] ? positive(String(values['per-second']), '--per-second') : 50, burst: values.burst ? positive(String(values.burst), '--burst') : 100,
  }];
  writeFileSync(`${file}.tmp`, `${JSON.stringify(config, null, 2)}\n`);
  renameSync(`${file}.tmp`, file);
  print({ ok: true, name: values.name, apiKey: key, note: 'shown once: the node keeps only its hash; restart the node to use it' });
  return 0;
}
