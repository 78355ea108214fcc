/**
 * `brop middleware`: the index, query API and event stream as a service of its own, following a node
 * over RPC (a full or proxy node, typically), its index in LevelDB or PostgreSQL; with `--custody DIR`,
 * file custody on the same server (docs/custody.md).
 */
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { DEFAULT_MIDDLEWARE_PORT } from '../../node/home.ts';
import { RpcSource } from '../../middleware/indexer/source.ts';
import { type CustodyOptions, openIndexStore, startMiddleware } from '../../middleware/service.ts';
import { CliError, toJson } from './output.ts';

const USAGE = 'brop middleware --node URL [--node-ws URL] [--api-key KEY] [--data DIR | --postgres URL] [--host H] [--port N] [--no-site]\n' +
  '    [--custody DIR [--custody-url URL] [--custody-max-bytes N] [--custody-types TYPE,...] [--custody-public]]';

const print = (v: unknown) => process.stdout.write(`${toJson(v)}\n`);

export async function runMiddleware(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv, strict: true,
      options: {
        node: { type: 'string' }, 'node-ws': { type: 'string' }, 'api-key': { type: 'string' }, data: { type: 'string' }, postgres: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, 'no-site': { type: 'boolean' },
        custody: { type: 'string' }, 'custody-url': { type: 'string' }, 'custody-max-bytes': { type: 'string' }, 'custody-types': { type: 'string' }, 'custody-public': { type: 'boolean' },
      },
    }).values;
  } catch (e) {
    throw new CliError('CLI_USAGE', `${(e as Error).message}\nusage: ${USAGE}`);
  }
  if (typeof values.node !== 'string') throw new CliError('CLI_USAGE', `--node is required\nusage: ${USAGE}`);
  if (values.data && values.postgres) throw new CliError('CLI_USAGE', `--data or --postgres, not both\nusage: ${USAGE}`);
  const port = values.port === undefined ? DEFAULT_MIDDLEWARE_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError('CLI_USAGE', '--port must be 0 (any free port) to 65535');
  const custody = custodyOptions(values);
  const nodeUrl = values.node;
  // A node serves its WebSocket at /ws on the RPC port.
  const nodeWs = typeof values['node-ws'] === 'string' ? values['node-ws'] : `${nodeUrl.replace(/^http/, 'ws').replace(/\/$/, '')}/ws`;
  const apiKey = (values['api-key'] as string | undefined) ?? process.env.BROP_API_KEY;
  const wsUrl = apiKey ? `${nodeWs}${nodeWs.includes('?') ? '&' : '?'}api_key=${encodeURIComponent(apiKey)}` : nodeWs;
  const store = await openIndexStore(typeof values.postgres === 'string' ? { postgres: values.postgres } : { dir: resolve(String(values.data ?? '.brop/middleware')) });
  const mw = await startMiddleware({
    source: new RpcSource(nodeUrl, { wsUrl, ...(apiKey ? { headers: { 'x-api-key': apiKey } } : {}) }),
    store, rpc: { host: String(values.host ?? '127.0.0.1'), port }, log: print, ...(custody ? { custody } : {}),
    nodeRpc: { url: nodeUrl, ...(apiKey ? { headers: { 'x-api-key': apiKey } } : {}) }, site: values['no-site'] !== true,
  });
  print({ event: 'started', rpc: mw.url, ws: mw.wsUrl, node: nodeUrl, custody: custody ? `${mw.url}custody` : null, ...mw.indexer.status() });
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await mw.stop();
  print({ event: 'stopped', ...mw.indexer.status() });
  return 0;
}

function custodyOptions(values: Record<string, string | boolean | undefined>): CustodyOptions | undefined {
  const dir = values.custody;
  const others = ['custody-url', 'custody-max-bytes', 'custody-types', 'custody-public'].filter((k) => values[k] !== undefined);
  if (typeof dir !== 'string') {
    if (others.length > 0) throw new CliError('CLI_USAGE', `--${others[0]} needs --custody DIR\nusage: ${USAGE}`);
    return undefined;
  }
  const maxBytes = values['custody-max-bytes'] === undefined ? undefined : Number(values['custody-max-bytes']);
  if (maxBytes !== undefined && (!Number.isSafeInteger(maxBytes) || maxBytes < 1)) throw new CliError('CLI_USAGE', '--custody-max-bytes must be a positive integer');
  return {
    dir: resolve(dir),
    ...(typeof values['custody-url'] === 'string' ? { publicUrl: values['custody-url'] } : {}),
    ...(maxBytes !== undefined ? { maxBytes } : {}),
    ...(typeof values['custody-types'] === 'string' ? { allowedTypes: values['custody-types'].split(',').map((t) => t.trim()).filter(Boolean) } : {}),
    ...(values['custody-public'] ? { publicDownloads: true } : {}),
  };
}
