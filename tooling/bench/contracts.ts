/**
 * `npm run bench -- contracts`: evidence registrations and voucher transfers per second through the
 * simulation kit (real VM, real system contracts, one core), with the mean gas of each.
 */
import { createHash } from 'node:crypto';
import { Simulation } from '../sim/index.ts';
import { deploySystem } from '../sim/system.ts';
import { PERM } from '../../contracts/system/index.ts';

/**
 * Calls per CPU-second of this process (user + system time, so a neighbour taking the core away does
 * not count against us; garbage collection on helper threads does), the best of several rounds.
 */
function rate(n: number, rounds: number, fn: (i: number) => void): number {
  let best = 0;
  for (let r = 0, i = 0; r < rounds; r++) {
    const t = process.cpuUsage();
    for (const end = i + n; i < end; i++) fn(i);
    const used = process.cpuUsage(t);
    best = Math.max(best, n / ((used.user + used.system) / 1e6));
  }
  return best;
}

export async function run(): Promise<void> {
  const sim = new Simulation();
  const sys = await deploySystem(sim);
  const partner = sys.admitPartner('bench-partner', PERM.all);
  const digest = new Uint8Array(createHash('sha256').update('document').digest());

  // Evidence registrations by a partner (each checks the partner's permission in admission).
  const warm = 2000, n = 4000, rounds = 12;
  for (let i = 0; i < warm; i++) sys.evidence.call('register', [`warm-${i}`, digest, '{"kind":"invoice"}', null, null], { as: partner }).expectOk();
  const gasBefore = sim.gasReport.length;
  const evidencePerS = rate(n, rounds, (i) => { sys.evidence.call('register', [`doc-${i}`, digest, '{"kind":"invoice"}', null, null], { as: partner }); });
  const evGas = sim.gasReport.slice(gasBefore).reduce((s, g) => s + g.gasUsed, 0) / (n * rounds);
  console.log(JSON.stringify({ bench: 'contracts.evidence_register', per_s: Math.round(evidencePerS), mean_gas: Math.round(evGas), goal_per_s: 50_000, note: `per CPU-second, best of ${rounds} rounds of ${n}` }));

  // Voucher transfers between two real-name users (each checks both accounts' standing in identity).
  const a = sys.enrolUser('holder-a', partner), b = sys.enrolUser('holder-b', partner);
  const id = sys.voucher.call('createVoucher', ['BENCH', 'Bench coupon', 'x', true, 10n ** 30n, partner.address], { as: sys.operator }).expectOk().value as bigint;
  sys.voucher.call('issue', [id, a.address, 10n ** 12n], { as: partner }).expectOk();
  sys.voucher.call('issue', [id, b.address, 10n ** 12n], { as: partner }).expectOk();
  for (let i = 0; i < warm; i++) sys.voucher.call('transfer', [id, i % 2 ? a.address : b.address, 1n], { as: i % 2 ? b : a }).expectOk();
  const before = sim.gasReport.length;
  const transferPerS = rate(n, rounds, (i) => { sys.voucher.call('transfer', [id, i % 2 ? a.address : b.address, 1n], { as: i % 2 ? b : a }); });
  const trGas = sim.gasReport.slice(before).reduce((s, g) => s + g.gasUsed, 0) / (n * rounds);
  console.log(JSON.stringify({ bench: 'contracts.voucher_transfer', per_s: Math.round(transferPerS), mean_gas: Math.round(trGas), goal_per_s: 50_000, note: `per CPU-second, best of ${rounds} rounds of ${n}` }));
}
