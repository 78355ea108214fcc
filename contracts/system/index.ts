/**
 * The system contracts, TypeScript side: their names, well-known addresses and builds. The node's
 * genesis and the simulation kit deploy them at these addresses; contracts/system/common/assembly/
 * system.ts holds the same addresses for the contracts themselves.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { type BuildResult, buildContract } from '../../tooling/build/contract.ts';

export const SYSTEM_CONTRACTS = ['admission', 'identity', 'evidence', 'voucher', 'quota', 'governance'] as const;
export type SystemContractName = (typeof SYSTEM_CONTRACTS)[number];

/** sha256("brop:system:" + name). */
export function systemAddress(name: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`brop:system:${name}`).digest());
}

/** An account's address: derived from its first public key, as the identity contract derives it. */
export function accountAddress(publicKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('brop:address:').update(publicKey).digest());
}

export function systemContractDir(name: SystemContractName): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

export async function buildSystemContract(name: SystemContractName): Promise<BuildResult> {
  return buildContract(systemContractDir(name));
}

/** Partner permission bits, as in common/assembly/system.ts. */
export const PERM = { identity: 1, evidence: 2, voucher: 4, all: 7 } as const;
export const ROLE = { none: 0, operator: 1, partner: 2, regulator: 3 } as const;
