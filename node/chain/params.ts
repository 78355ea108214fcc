/** Chain parameters, fixed in the genesis file: every node of a chain must agree on them. */
export interface ChainParams {
  chainId: string;
  /** W: a transaction's validUntilBlock may be at most W above the current height (SPEC C4). */
  validityWindow: number;
  /** Gas available to one transaction. */
  maxTxGas: number;
  /** Block limits: gas used, transaction bytes, transaction count. */
  maxBlockGas: number;
  maxBlockBytes: number;
  maxBlockTxs: number;
  /** Target time between blocks. */
  blockTimeMs: number;
  maxTxBytes: number;
}

export const DEFAULT_CHAIN_PARAMS: Omit<ChainParams, 'chainId'> = {
  validityWindow: 100,
  maxTxGas: 50_000_000,
  maxBlockGas: 20_000_000_000,
  maxBlockBytes: 8 * 1024 * 1024,
  maxBlockTxs: 20_000,
  // SPEC C3: about 3 s by default (the whitepaper's 出块时间在 3 秒左右); tests and benchmarks set less.
  blockTimeMs: 3000,
  maxTxBytes: 64 * 1024,
};

export class ParamsError extends Error {
  readonly code = 'GENESIS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'ParamsError';
  }
}

export function checkParams(p: ChainParams): ChainParams {
  if (typeof p.chainId !== 'string' || p.chainId.length === 0 || Buffer.byteLength(p.chainId) > 64) throw new ParamsError('chainId must be 1 to 64 bytes');
  for (const k of ['validityWindow', 'maxTxGas', 'maxBlockGas', 'maxBlockBytes', 'maxBlockTxs', 'blockTimeMs', 'maxTxBytes'] as const) {
    if (!Number.isSafeInteger(p[k]) || p[k] <= 0) throw new ParamsError(`${k} must be a positive integer`);
  }
  if (p.maxTxGas > p.maxBlockGas) throw new ParamsError('maxTxGas cannot exceed maxBlockGas');
  return p;
}
