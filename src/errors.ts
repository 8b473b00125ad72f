/**
 * OpenlecError is the one error class of openlec. Its `code` is stable (tests and
 * clients match on it), its message is short and names the field, line or entry at
 * fault, and `details` carries the evidence a caller needs to fix the input.
 */
export class OpenlecError extends Error {
  override readonly name = 'OpenlecError';
  readonly code: string;
  readonly field: string | undefined;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, options: { field?: string; details?: Record<string, unknown>; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options.field;
    this.details = options.details ?? {};
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.field ? { field: this.field } : {}), ...this.details };
  }
}

/** invariant throws for states that correct code cannot reach ("bad math"), never for bad input. */
export function invariant(condition: unknown, what: string): asserts condition {
  if (!condition) throw new Error(`openlec: internal invariant violated: ${what}`);
}
