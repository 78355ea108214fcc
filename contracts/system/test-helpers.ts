/**
 * Shared by the system contracts' tests: a simulation with every system contract deployed and one
 * account in each role, and a permission-matrix runner.
 */
import * as assert from 'uvu/assert';
import { Simulation, type Account, type Contract, type Outcome } from '../../tooling/sim/index.ts';
import { deploySystem, type SystemContracts } from '../../tooling/sim/system.ts';
import { PERM } from './index.ts';

export interface World {
  sim: Simulation;
  sys: SystemContracts;
  roles: Record<'operator' | 'partner' | 'regulator' | 'user', Account>;
}

export async function world(): Promise<World> {
  const sim = new Simulation();
  const sys = await deploySystem(sim);
  const partner = sys.admitPartner('partner-a', PERM.all);
  const regulator = sys.registerRegulator('regulator-a');
  // The user has an account, certified at the real-name level by the partner.
  const user = sys.enrolUser('user-u', partner);
  return { sim, sys, roles: { operator: sys.operator, partner, regulator, user } };
}

export type Role = keyof World['roles'];

export interface MatrixRow {
  method: string;
  /** Arguments, built fresh for each role (after `setup`, inside a snapshot). */
  args: (w: World, role: Role) => unknown[];
  /** Roles allowed to call; everyone else must fail with `denied`. */
  allowed: Role[];
  denied: string;
  setup?: (w: World) => void;
  contract: (w: World) => Contract;
}

/** Calls every method as every role, each from the same snapshot, and checks who may. */
export function checkMatrix(w: World, rows: MatrixRow[]): void {
  for (const row of rows) {
    for (const role of Object.keys(w.roles) as Role[]) {
      const snap = w.sim.snapshot();
      try {
        row.setup?.(w);
        const out: Outcome = row.contract(w).call(row.method, row.args(w, role), { as: w.roles[role] });
        if (row.allowed.includes(role)) assert.ok(out.ok, `${row.method} as ${role} should succeed, got ${out.errorCode}: ${out.error?.message}`);
        else assert.is(out.errorCode, row.denied, `${row.method} as ${role} should fail with ${row.denied}, got ${out.ok ? 'success' : out.errorCode}`);
      } finally {
        w.sim.revert(snap);
      }
    }
  }
}
