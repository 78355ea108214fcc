/**
 * The system contracts in a simulation: deployed at their well-known addresses, the operator set,
 * plus helpers that put accounts into roles the way the operator would.
 */
import { createHash } from 'node:crypto';
import { SYSTEM_CONTRACTS, type SystemContractName, buildSystemContract, systemAddress } from '../../contracts/system/index.ts';
import type { Account, Contract, Simulation } from './index.ts';

/** A stand-in digest for a signed legal document. */
export function documentDigest(text: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`document:${text}`).digest());
}

/** The salted digest of a person's identity data, as a partner computes it (SPEC I2). */
export function identityDigest(data: string, salt: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(salt).update(data).digest());
}

/** The caller the node uses for system calls (quota charges): the zero address. */
export const SYSTEM_CALLER: Account = { name: 'system', key: new Uint8Array(32), address: new Uint8Array(32), hex: '00'.repeat(32) };

export class SystemContracts {
  readonly sim: Simulation;
  readonly operator: Account;
  readonly validators: Account[];
  readonly contracts: Record<SystemContractName, Contract>;
  constructor(sim: Simulation, operator: Account, validators: Account[], contracts: Record<SystemContractName, Contract>) {
    this.sim = sim;
    this.operator = operator;
    this.validators = validators;
    this.contracts = contracts;
  }
  get admission(): Contract { return this.contracts.admission; }
  get identity(): Contract { return this.contracts.identity; }
  get evidence(): Contract { return this.contracts.evidence; }
  get voucher(): Contract { return this.contracts.voucher; }
  get quota(): Contract { return this.contracts.quota; }
  get governance(): Contract { return this.contracts.governance; }

  /**
   * Creates a user account through `partner` and certifies it at `level` (default: real name),
   * with a stand-in identity digest; returns the account.
   */
  enrolUser(name: string, partner: Account, level = 4, opts: { vouchesEvidence?: boolean } = {}): Account {
    const a = this.sim.account(name);
    this.identity.call('createAccount', [a.key, null], { as: partner }).expectOk();
    this.identity.call('certify', [a.address, level, identityDigest(name, 'salt'), opts.vouchesEvidence ?? false], { as: partner }).expectOk();
    return a;
  }

  /** Admits `name` as a partner with the given permission bits; returns its account. */
  admitPartner(name: string, permissions: number): Account {
    const a = this.sim.account(name);
    this.admission.call('admitPartner', [a.address, name, permissions, documentDigest(`${name} admission agreement`)], { as: this.operator }).expectOk();
    return a;
  }

  registerRegulator(name: string): Account {
    const a = this.sim.account(name);
    this.admission.call('registerRegulator', [a.address, name, documentDigest(`${name} mandate`)], { as: this.operator }).expectOk();
    return a;
  }
}

/**
 * Deploys every system contract, sets the operator (default: account "operator") and the genesis
 * validators (default: four accounts "validator-1".."validator-4").
 */
export async function deploySystem(sim: Simulation, opts: { operator?: Account; validators?: Account[] } = {}): Promise<SystemContracts> {
  const operator = opts.operator ?? sim.account('operator');
  const validators = opts.validators ?? [1, 2, 3, 4].map((i) => sim.account(`validator-${i}`));
  const contracts = {} as Record<SystemContractName, Contract>;
  for (const name of SYSTEM_CONTRACTS) {
    contracts[name] = await sim.deploy(await buildSystemContract(name), { name, address: systemAddress(name) });
  }
  contracts.admission.call('init', [operator.address, documentDigest('operator agreement')], { as: sim.deployer }).expectOk();
  contracts.governance.call('init', [validators.map((v) => v.address)], { as: sim.deployer }).expectOk();
  return new SystemContracts(sim, operator, validators, contracts);
}
