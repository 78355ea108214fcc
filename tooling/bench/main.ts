/**
 * `npm run bench -- NAME`: benchmarks print JSON lines. Figures are ratios or rates measured in one
 * run, so that a noisy shared machine affects both sides of a ratio alike.
 */
const benches: Record<string, () => Promise<void>> = {
  vm: async () => (await import('./vm.ts')).run(),
  contracts: async () => (await import('./contracts.ts')).run(),
  state: async () => (await import('./state.ts')).run(),
  chain: async () => (await import('./chain.ts')).run(),
  floor: async () => (await import('./floor.ts')).run(),
  consensus: async () => (await import('./consensus.ts')).run(),
  middleware: async () => (await import('./middleware.ts')).run(),
};

const names = process.argv.slice(2);
if (names.length === 0 || names.some((n) => !benches[n])) {
  console.error(`usage: npm run bench -- ${Object.keys(benches).join('|')}`);
  process.exit(2);
}
for (const n of names) await benches[n]!();
