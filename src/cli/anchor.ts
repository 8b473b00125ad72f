import { anchorRound } from '../anchor/anchoring.ts';
import { AnchorContract, type ChainOptions, readPrivateKey } from '../anchor/evm.ts';
import { OpenlecError } from '../errors.ts';
import { toHex } from '../ledger/index.ts';

export interface AnchorOptions extends ChainOptions {
  db: string;
  /** File with the operator's EVM private key (0x hex). */
  key: string;
  contract?: string;
  deploy?: boolean;
  /** Anchor only checkpoints with at least this many witness cosignatures. */
  quorum: number;
  /** Seconds between rounds; 0 = once. */
  every: number;
  log?: (line: string) => void;
}

/** parseDuration reads "90", "90s", "15m", "1h" or "1d" as seconds. */
export function parseDuration(text: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!m) throw new OpenlecError('E_USAGE', `${field} must be a duration such as 30s, 15m or 1h (got "${text}")`, { field });
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}

/**
 * anchor records, on an EVM chain, the root of the newest checkpoint that has the
 * required cosignatures and is larger than the last anchored one. The chain is the record:
 * `openlec verify --anchors` reads the contract's events back.
 */
export async function anchor(o: AnchorOptions): Promise<{ contract: string; chainId: number; anchored: { size: number; tx: string; block: bigint; gasUsed: bigint }[] }> {
  const privateKey = readPrivateKey(o.key);
  if (!o.contract && !o.deploy) throw new OpenlecError('E_USAGE', 'anchor needs --contract ADDRESS or --deploy', { field: 'contract' });
  const contract = o.contract ? await AnchorContract.at({ ...o, address: o.contract, privateKey }) : await AnchorContract.deploy({ ...o, privateKey });
  o.log?.(`anchor contract ${contract.address} on chain ${contract.chainId}`);
  const anchored: { size: number; tx: string; block: bigint; gasUsed: bigint }[] = [];
  for (;;) {
    const r = await anchorRound(o.db, contract, o.quorum);
    if (r) {
      anchored.push({ size: r.size, tx: r.tx, block: r.block, gasUsed: r.gasUsed });
      o.log?.(`anchored checkpoint ${r.size} (root ${toHex(r.root).slice(0, 16)}…) in block ${r.block}, tx ${r.tx}, gas ${r.gasUsed}`);
    }
    if (o.every <= 0) return { contract: contract.address, chainId: contract.chainId, anchored };
    await new Promise((r) => setTimeout(r, o.every * 1000));
  }
}
