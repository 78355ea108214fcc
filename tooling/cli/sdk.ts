/**
 * `brop sdk generate`: typed TypeScript wrappers for a contract, from its ABI file or from the node
 * that runs it (middleware/sdk/codegen.ts does the work).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateWrapper } from '../../middleware/sdk/codegen.ts';
import type { ContractAbi } from '../../middleware/sdk/index.ts';
import { CliError, toJson } from './output.ts';

const USAGE = 'brop sdk generate (--contract NAME [--rpc URL | --home DIR] [--api-key KEY] | --abi FILE) --out FILE.ts [--import SPEC] [--class NAME]';

export async function runSdkCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'generate') throw new CliError('CLI_USAGE', `usage: ${USAGE}`);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest, strict: true, allowPositionals: false,
      options: {
        contract: { type: 'string' }, abi: { type: 'string' }, out: { type: 'string' }, import: { type: 'string' }, class: { type: 'string' },
        rpc: { type: 'string' }, home: { type: 'string' }, 'api-key': { type: 'string' },
      },
    }));
  } catch (e) {
    throw new CliError('CLI_USAGE', `${(e as Error).message}\nusage: ${USAGE}`);
  }
  if (!values.out || (values.contract === undefined) === (values.abi === undefined)) throw new CliError('CLI_USAGE', `--out and one of --contract or --abi are required\nusage: ${USAGE}`);
  const abi = values.abi !== undefined ? readAbi(resolve(String(values.abi))) : await fetchAbi(values, String(values.contract));
  const source = generateWrapper(abi, { importFrom: values.import as string | undefined, className: values.class as string | undefined });
  const out = resolve(String(values.out));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, source);
  renameSync(`${out}.tmp`, out);
  process.stdout.write(`${toJson({ ok: true, out, contract: abi.name, methods: abi.methods.length, structs: Object.keys(abi.structs).length })}\n`);
  return 0;
}

function readAbi(path: string): ContractAbi {
  let abi: Partial<ContractAbi>;
  try {
    abi = JSON.parse(readFileSync(path, 'utf8')) as Partial<ContractAbi>;
  } catch (e) {
    throw new CliError('CLI_FILE', `${path}: ${(e as Error).message}`);
  }
  if (typeof abi?.name !== 'string' || !Array.isArray(abi.methods) || typeof abi.structs !== 'object') throw new CliError('CLI_FILE', `${path} is not a contract ABI (brop contract build writes NAME.abi.json)`);
  return abi as ContractAbi;
}

async function fetchAbi(values: Record<string, unknown>, contract: string): Promise<ContractAbi> {
  // Loaded here: generating from an ABI file needs nothing of the node's (main.ts loads commands lazily for the same reason).
  const { sdkClient } = await import('./chain.ts');
  const client = sdkClient(values, { wsUrl: false });
  try {
    return (await client.resolveContract(contract)).abi;
  } finally {
    await client.close();
  }
}
