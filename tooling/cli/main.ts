/**
 * The `brop` command line. Each command prints JSON (one line) on success so that scripts can parse
 * it; errors print `{"error":{"code","message"}}` on stderr with a non-zero exit status.
 */
import { runVmCommand } from './vm.ts';
import { runStart } from './start.ts';
import { runContractCommand } from './contract.ts';
import { CliError, printError } from './output.ts';

const USAGE = `Usage: brop <command> [options]

Commands:
  start                                   Run the system contracts through a short demo (the chain node lands with the node issue)
  vm exec FILE.wasm EXPORT [--input HEX] [--gas N]
                                          Run one export as a contract call under all VM rules, in-memory state
  vm instrument IN.wasm OUT.wasm [--gas N]
                                          Write the metered, stack-bounded module exactly as the VM runs it
  contract build DIR                      Compile DIR/assembly/index.ts to DIR/build/NAME.wasm + NAME.abi.json
  contract test DIR [PATTERN]             Build, then run DIR/test/*.test.ts (uvu + the simulation kit)
  help                                    This text
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'vm':
      return runVmCommand(rest);
    case 'contract':
      return runContractCommand(rest);
    case 'start':
      return runStart(rest);
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
