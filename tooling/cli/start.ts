/**
 * `brop start` (and `npm start`). The chain node is not built yet, so this starts what exists: the
 * system contracts in the simulation kit (real VM, real contracts, in-memory state), walked through a
 * short session of the platform's roles. Each step prints one JSON line. The node issue replaces this
 * with a local single-validator chain.
 */
import { createHash } from 'node:crypto';
import { Simulation, type Contract, type Account } from '../sim/index.ts';
import { deploySystem, identityDigest } from '../sim/system.ts';
import { PERM } from '../../contracts/system/index.ts';
import { toJson } from './output.ts';

export async function runStart(_argv: string[]): Promise<number> {
  const sim = new Simulation();
  const started = performance.now();
  const sys = await deploySystem(sim);
  console.log(toJson({ event: 'system-contracts-deployed', contracts: Object.fromEntries(Object.entries(sys.contracts).map(([n, c]) => [n, c.address])), ms: Math.round(performance.now() - started) }));
  const step = (who: Account, contract: Contract, method: string, args: unknown[]) => {
    const r = contract.call(method, args, { as: who });
    console.log(toJson({ as: who.name, call: `${contract.name}.${method}`, ok: r.ok, value: r.value ?? null, gasUsed: r.gasUsed, error: r.error, events: r.events.map((e) => e.name) }));
    if (!r.ok) throw new Error(`demo step ${contract.name}.${method} failed: ${r.errorCode}`);
    sim.advance(1);
    return r;
  };
  const doc = (s: string) => new Uint8Array(createHash('sha256').update(s).digest());
  const partner = sim.account('demo-partner');
  step(sys.operator, sys.admission, 'admitPartner', [partner.address, 'Demo Partner Ltd', PERM.all, doc('partner agreement')]);
  const alice = sim.account('alice'), bob = sim.account('bob');
  for (const u of [alice, bob]) {
    step(partner, sys.identity, 'createAccount', [u.key, u.name]);
    step(partner, sys.identity, 'certify', [u.address, 4, identityDigest(`${u.name} id card`, 'salt'), false]);
  }
  step(partner, sys.evidence, 'register', ['contract/2026-001', doc('the signed contract'), '{"type":"contract"}', null, null]);
  const id = step(sys.operator, sys.voucher, 'createVoucher', ['DEMO', 'Demo coupon', 'a coffee', true, 1000n, partner.address]).value;
  step(partner, sys.voucher, 'issue', [id, alice.address, 10n]);
  step(alice, sys.voucher, 'transfer', [id, bob.address, 3n]);
  console.log(toJson({ event: 'done', height: sim.height, note: 'the VM and the system contracts work; the chain node (brop start --home DIR) arrives with the node issue' }));
  return 0;
}
