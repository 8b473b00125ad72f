import type { z } from 'zod';
import type { SignedTransaction } from '../ledger/index.ts';
import type { State, TableSpec } from './tables.ts';

/** Roles a participant may hold. The DSO role supplies meter data and network limits; the issuer registers production devices and issues certificates of origin; an aggregator offers the flexibility of assets members delegated to it. */
export const ROLES = ['operator', 'dso', 'member', 'auditor', 'issuer', 'aggregator', 'cpo', 'emsp'] as const;
export type Role = (typeof ROLES)[number];

export interface ApplyContext {
  readonly state: State;
  readonly tx: SignedTransaction;
  /** Index of the entry in the log. */
  readonly entry: number;
  /**
   * The operator's time at admission (epoch ms), when the server appends a transaction it
   * received; absent in replay. Time rules take whichever of it and issuedAt is stricter
   * (apply.ts: latestTime, earliestTime), so what was admitted also replays on issuedAt.
   */
  readonly now?: number;
}

/**
 * A TxType is one kind of transaction: the zod schema of its body, the roles allowed to
 * send it, and a pure `apply` that validates against state first and only then writes.
 * `genesis` marks the one type that creates the community as entry 0.
 */
export interface TxType<B = unknown> {
  readonly type: string;
  readonly body: z.ZodType<B>;
  readonly roles: readonly Role[];
  readonly genesis?: boolean;
  readonly tables?: readonly TableSpec[];
  apply(ctx: ApplyContext, body: B): void;
}

/** defineTx keeps the body type of a transaction type inferred from its schema. */
export function defineTx<S extends z.ZodType>(def: Omit<TxType<z.infer<S>>, 'body'> & { body: S }): TxType<z.infer<S>> {
  return def as TxType<z.infer<S>>;
}

export class Registry {
  private readonly types = new Map<string, TxType>();
  readonly tables: TableSpec[] = [];

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each type has its own body
  constructor(tables: readonly TableSpec[], types: readonly TxType<any>[]) {
    this.tables.push(...tables);
    for (const t of types) this.add(t as TxType);
  }

  private add(t: TxType): void {
    if (this.types.has(t.type)) throw new Error(`transaction type ${t.type} registered twice`);
    this.types.set(t.type, t);
    for (const spec of t.tables ?? []) if (!this.tables.some((s) => s.name === spec.name)) this.tables.push(spec);
  }

  get(type: string): TxType | undefined {
    return this.types.get(type);
  }

  list(): TxType[] {
    return [...this.types.values()];
  }
}
