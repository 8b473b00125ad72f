import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import {
  type Abi, type Address, type Chain, createPublicClient, createWalletClient, defineChain, getAddress, type Hex, http, keccak256, parseEventLogs, toHex as viemHex,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { OpenlecError } from '../errors.ts';
import { toHex } from '../ledger/index.ts';

/**
 * Anchoring on an EVM chain (adapter): the CheckpointAnchor contract, compiled from
 * contracts/CheckpointAnchor.sol with solc (the npm package) and called through viem over
 * any JSON-RPC endpoint: Energy Web Chain, a Besu QBFT/IBFT network, a testnet, anvil.
 */
const CONTRACTS = join(import.meta.dirname, '..', '..', 'contracts');

const compiled = new Map<string, { abi: Abi; bytecode: Hex }>();

/** compileContract compiles contracts/<name>.sol with solc (once per process). */
export function compileContract(name: 'CheckpointAnchor' | 'TradeLog'): { abi: Abi; bytecode: Hex } {
  const cached = compiled.get(name);
  if (cached) return cached;
  const solc = createRequire(import.meta.url)('solc') as { compile(input: string): string };
  const file = `${name}.sol`;
  const input = {
    language: 'Solidity',
    sources: { [file]: { content: readFileSync(join(CONTRACTS, file), 'utf8') } },
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: 'paris', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: Abi; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length) throw new OpenlecError('E_SOLC', errors.map((e) => e.formattedMessage).join('\n'), { field: 'contract' });
  const c = out.contracts[file]![name]!;
  const result = { abi: c.abi, bytecode: `0x${c.evm.bytecode.object}` as Hex };
  compiled.set(name, result);
  return result;
}

const compileAnchor = () => compileContract('CheckpointAnchor');

/** communityId: the contract's key for a log, keccak256 of its origin line. */
export const communityId = (origin: string): Hex => keccak256(viemHex(origin));

export interface ChainOptions {
  rpc: string;
  /** When given, the endpoint's chain id must be this one. */
  chainId?: number;
}

export async function chainOf(o: ChainOptions): Promise<Chain> {
  const probe = createPublicClient({ transport: http(o.rpc) });
  let id: number;
  try {
    id = await probe.getChainId();
  } catch (e) {
    throw new OpenlecError('E_RPC', `${o.rpc}: ${(e as Error).message.split('\n')[0]}`, { field: 'rpc', cause: e });
  }
  if (o.chainId !== undefined && id !== o.chainId) throw new OpenlecError('E_CHAIN_ID', `${o.rpc} is chain ${id}, not ${o.chainId}`, { field: 'chainId' });
  return defineChain({ id, name: `evm-${id}`, nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 }, rpcUrls: { default: { http: [o.rpc] } } });
}

/** readPrivateKey reads an EVM account key file: one 0x-prefixed 32-byte hex secp256k1 key. */
export function readPrivateKey(file: string): Hex {
  const text = readFileSync(file, 'utf8').trim();
  if (!/^0x[0-9a-fA-F]{64}$/.test(text)) throw new OpenlecError('E_EVM_KEY', `${file}: an EVM key file holds one 0x-prefixed 64-hex-digit private key`, { field: 'evm-key' });
  return text as Hex;
}

export class AnchorContract {
  private constructor(
    readonly address: Address, readonly chainId: number,
    private readonly pub: ReturnType<typeof createPublicClient>, private readonly wallet?: ReturnType<typeof createWalletClient>,
  ) {}

  /** deploy publishes the contract with the account's key and waits for it to be mined. */
  static async deploy(o: ChainOptions & { privateKey: Hex }): Promise<AnchorContract> {
    const chain = await chainOf(o);
    const account = privateKeyToAccount(o.privateKey);
    const wallet = createWalletClient({ account, chain, transport: http(o.rpc) });
    const pub = createPublicClient({ chain, transport: http(o.rpc) });
    const { abi, bytecode } = compileAnchor();
    const hash = await wallet.deployContract({ abi, bytecode, account, chain });
    const receipt = await pub.waitForTransactionReceipt({ hash });
    if (!receipt.contractAddress) throw new OpenlecError('E_EVM_DEPLOY', `deployment ${hash} created no contract`, { field: 'contract' });
    return new AnchorContract(receipt.contractAddress, chain.id, pub as never, wallet as never);
  }

  static async at(o: ChainOptions & { address: string; privateKey?: Hex }): Promise<AnchorContract> {
    const chain = await chainOf(o);
    let address: Address;
    try {
      address = getAddress(o.address);
    } catch {
      throw new OpenlecError('E_EVM_ADDRESS', `${o.address} is not an EVM address`, { field: 'contract' });
    }
    const pub = createPublicClient({ chain, transport: http(o.rpc) });
    if (!(await pub.getCode({ address }))) throw new OpenlecError('E_EVM_ADDRESS', `no contract at ${address} on chain ${chain.id}`, { field: 'contract' });
    const wallet = o.privateKey ? createWalletClient({ account: privateKeyToAccount(o.privateKey), chain, transport: http(o.rpc) }) : undefined;
    return new AnchorContract(address, chain.id, pub as never, wallet as never);
  }

  /** anchor records a checkpoint's root and waits for the transaction to be mined. */
  async anchor(origin: string, size: number, root: Uint8Array): Promise<{ tx: Hex; block: bigint; gasUsed: bigint }> {
    if (!this.wallet?.account) throw new OpenlecError('E_EVM_KEY', 'anchoring needs the operator\'s EVM key', { field: 'evm-key' });
    const { abi } = compileAnchor();
    const hash = await this.wallet.writeContract({ address: this.address, abi, functionName: 'anchor', args: [communityId(origin), BigInt(size), `0x${toHex(root)}`], account: this.wallet.account, chain: this.wallet.chain });
    const r = await this.pub.waitForTransactionReceipt({ hash });
    if (r.status !== 'success') throw new OpenlecError('E_EVM_REVERTED', `anchoring size ${size} reverted (${hash})`, { field: 'size' });
    return { tx: hash, block: r.blockNumber, gasUsed: r.gasUsed };
  }

  /** anchors lists every root anchored for the log, oldest first, with block and time. */
  async anchors(origin: string): Promise<{ size: number; root: string; block: bigint; timestamp: number; tx: Hex }[]> {
    const { abi } = compileAnchor();
    const logs = await this.pub.getLogs({ address: this.address, fromBlock: 0n, toBlock: 'latest' });
    const wanted = communityId(origin);
    return parseEventLogs({ abi, logs, eventName: 'Anchored' })
      .map((l) => ({ l, args: l.args as unknown as { community: Hex; size: bigint; root: Hex; timestamp: bigint } }))
      .filter(({ args }) => args.community === wanted)
      .map(({ l, args }) => ({ size: Number(args.size), root: args.root.slice(2), block: l.blockNumber, timestamp: Number(args.timestamp), tx: l.transactionHash }));
  }
}
