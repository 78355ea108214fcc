/**
 * The `brop` command line. Each command prints JSON (one line) on success so that scripts can parse
 * it; errors print `{"error":{"code","message"}}` on stderr with a non-zero exit status.
 */
import { CliError, printError } from './output.ts';

// Commands load their modules when run: `brop verify` (offline, often a verifier's only use of brop)
// should not pay for the node, libp2p and the VM (about 1.4 s here).
const chain = () => import('./chain.ts');
const proofs = () => import('./proofs.ts');

const USAGE = `Usage: brop <command> [options]

Commands:
  init --home DIR [--chain-id ID] [--rpc-port N] [--block-time MS]
                                          Create a single-validator chain: keys, system contracts, genesis, config
  init --home DIR --validators N [--base-port P] [--block-time MS]
                                          Create N validator homes and a full node's (DIR/validator-1.., DIR/full-node)
  init --home DIR --genesis FILE --peers ADDR[,ADDR..] [--rpc-port N] [--p2p-listen ADDR]
                                          A full node's home for a chain that runs already (proxy: add API keys)
  devnet [--dir DIR] [--validators N] [--block-time MS] [--base-port P] [--chain-id ID]
                                          Run N validators and a full node as processes on loopback (default 4)
  start [--home DIR] [--rpc-port N] [--middleware-port N] [--password-file F] [--no-progress]
                                          Run the node of DIR (default .brop/local, created on first run) until Ctrl-C,
                                          with the middleware beside it if its config has a middleware section;
                                          SIGHUP re-reads p2p.denyPeers; --no-progress: no sync progress bar on stderr;
                                          an encrypted validator key's password: --password-file F, BROP_KEY_PASSWORD or the terminal
  middleware --node URL [--data DIR | --postgres URL] [--port N] [--custody DIR [--custody-url URL] ...]
                                          Index a node's chain; serve the query API and event stream (default port 8650),
                                          and file custody with --custody (docs/custody.md)
  status [--rpc URL | --home DIR] [--api-key KEY]
                                          The chain's head, validators and pool
  tx CONTRACT METHOD --args JSON --key FILE [--password-file F] [--rpc URL | --home DIR] [--api-key KEY]
     [--valid-for N] [--no-wait]          Sign and submit a transaction; wait for its receipt or its expiry
                                          (--key may be an encrypted keystore: --password-file F or BROP_KEY_PASSWORD;
                                          --valid-for: blocks, at most the chain's validity window;
                                          --api-key, or BROP_API_KEY: a proxy node's key for this partner)
  call CONTRACT METHOD [--args JSON] [--caller 0xADDRESS] [--rpc URL | --home DIR] [--api-key KEY]
                                          A read-only contract call at the head (as --caller, if given)
  keys new --out FILE [--encrypt] [--force] | keys show FILE
                                          Create or inspect an Ed25519 key file (or encrypted keystore)
  keys encrypt FILE [--out F]             Turn a key file (a validator's, say) into an encrypted keystore, in place by default
  keys hsm --module SO --token LABEL --key-label LABEL
                                          Make (or find) a validator key on an HSM token (PKCS#11; PIN from BROP_HSM_PIN)
  apikey new --home DIR --name PARTNER [--per-second N] [--burst N] [--custody]
                                          A partner's API key for a proxy node, or for custody uploads (only its hash is kept)
  vm exec FILE.wasm EXPORT [--input HEX] [--gas N]
                                          Run one export as a contract call under all VM rules, in-memory state
  vm instrument IN.wasm OUT.wasm [--gas N]
                                          Write the metered, stack-bounded module exactly as the VM runs it
  verify BUNDLE.json [FILE] [--genesis GENESIS.json] [--holding HOLDING.json] [--json]
                                          Check a proof bundle offline (and FILE against its digest, a holder's proof against it)
  proof evidence KEY | account ADDRESS | certification ACCOUNT PARTNER | balance VOUCHER HOLDER
        | item VOUCHER ITEM | holdings VOUCHER CUSTODIAN  [--out FILE] [--height H] [--rpc URL | --home DIR]
                                          Fetch a record's proof bundle from a node (docs/proofs.md)
  holdings build --voucher ID (--custodian ADDRESS | --key FILE) --holders FILE --out DIR
                                          A custodian's holdings tree and each holder's inclusion proof (SPEC V5)
  holdings commit --dir DIR --key FILE [--rpc URL | --home DIR]
                                          Publish the holdings commitment (voucher.commitHoldings)
  contract build DIR                      Compile DIR/assembly/index.ts to DIR/build/NAME.wasm + NAME.abi.json
  contract test DIR [PATTERN]             Build, then run DIR/test/*.test.ts (uvu + the simulation kit)
  sdk generate (--contract NAME | --abi FILE) --out FILE.ts [--import SPEC]
                                          Typed TypeScript wrappers of a contract for the partner SDK (brop/sdk)
  help                                    This text
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'vm':
      return (await import('./vm.ts')).runVmCommand(rest);
    case 'contract':
      return (await import('./contract.ts')).runContractCommand(rest);
    case 'sdk':
      return (await import('./sdk.ts')).runSdkCommand(rest);
    case 'init':
      return (await chain()).runInit(rest);
    case 'start':
      return (await chain()).runNode(rest);
    case 'devnet':
      return (await chain()).runDevnet(rest);
    case 'status':
      return (await chain()).runStatus(rest);
    case 'tx':
      return (await chain()).runTx(rest);
    case 'call':
      return (await chain()).runCall(rest);
    case 'keys':
      return (await chain()).runKeys(rest);
    case 'apikey':
      return (await chain()).runApiKey(rest);
    case 'middleware':
      return (await import('./middleware.ts')).runMiddleware(rest);
    case 'verify':
      return (await proofs()).runVerify(rest);
    case 'proof':
      return (await proofs()).runProof(rest);
    case 'holdings':
      return (await proofs()).runHoldings(rest);
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new CliError('CLI_USAGE', `unknown command "${command}"\n\n${USAGE}`);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.exitCode = printError(e);
}
// The command is done (a long-running one has shut down): if some handle still keeps the process up
// (a socket whose close never completes, say), exit anyway rather than hang a script that waits on us.
setTimeout(() => process.exit(), 3000).unref();
