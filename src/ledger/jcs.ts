/**
 * jcs writes a JSON value in RFC 8785 canonical form: object members sorted by the UTF-16
 * code units of their names (RFC 8785 §3.2.3, JavaScript's default sort), numbers as
 * ECMAScript writes them (§3.2.2.3), strings as JSON.stringify escapes them (§3.2.2.2).
 * It refuses what has no canonical form: NaN, infinities, lone surrogates (§3.1), cycles.
 * Returns undefined for undefined, functions and symbols, as JSON.stringify does.
 * Checked against the `canonicalize` package by a property test.
 */
export function jcs(value: unknown): string | undefined {
  return write(value, []);
}

/** Plain objects and arrays nested deeper than this go through `write`, which also finds cycles. */
const SHAPE_DEPTH = 32;

/**
 * canonicalShape says whether JSON.stringify writes `v` exactly as RFC 8785 does: plain
 * objects (no toJSON, no prototype but Object's) whose names are in code-unit order,
 * arrays, finite numbers, well-formed strings, booleans and null at every level. Anything
 * else (bigint, NaN, a lone surrogate, a Date, deep or cyclic nesting) answers false, and
 * `write` gives the canonical form or the error.
 */
function canonicalShape(v: object, depth: number): boolean {
  if (depth > SHAPE_DEPTH) return false;
  if (Array.isArray(v)) {
    // A plain array only: a subclass or an own toJSON is written by the general writer.
    if (Object.getPrototypeOf(v) !== Array.prototype || 'toJSON' in v) return false;
    for (let i = 0; i < v.length; i++) if (!shapeOf(v[i], depth)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  if ('toJSON' in v) return false;
  const keys = Object.keys(v);
  for (let i = 0; i < keys.length; i++) if ((i > 0 && keys[i - 1]! > keys[i]!) || !keys[i]!.isWellFormed()) return false;
  for (let i = 0; i < keys.length; i++) {
    const x = (v as Record<string, unknown>)[keys[i]!];
    if (x !== undefined && !shapeOf(x, depth)) return false;
  }
  return true;
}

function shapeOf(x: unknown, depth: number): boolean {
  switch (typeof x) {
    case 'number':
      return Number.isFinite(x);
    case 'string':
      return x.isWellFormed();
    case 'boolean':
      return true;
    case 'undefined':
      return true;
    case 'object':
      return x === null || canonicalShape(x, depth + 1);
    default:
      return false;
  }
}

/** jcsGeneral is the canonical writer without the JSON.stringify shortcut; a property test holds the two equal. */
export function jcsGeneral(value: unknown): string | undefined {
  return write(value, [], false);
}

/** Member names as JSON strings, checked once: names repeat across the objects of a log. */
const quotedNames = new Map<string, string>();
function quoted(k: string): string {
  let q = quotedNames.get(k);
  if (q === undefined) {
    if (!k.isWellFormed()) throw new Error('Lone surrogate is not allowed');
    q = JSON.stringify(k);
    if (quotedNames.size < 10_000) quotedNames.set(k, q);
  }
  return q;
}

/** Names in code-unit order; most objects are built in that order already, which a scan confirms. */
function sortedNames(o: object): string[] {
  const keys = Object.keys(o);
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return keys.sort();
  return keys;
}

function write(v: unknown, path: object[], shortcut = true): string | undefined {
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`${v} has no JSON form`);
      // ECMAScript's Number::toString, as JSON.stringify writes a finite number (and -0 as 0).
      return `${v}`;
    case 'string':
      if (!v.isWellFormed()) throw new Error('Lone surrogate is not allowed');
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      // Most values of a log are already in canonical shape (names in order, as JSON.parse of
      // canonical text or the code that builds them gives): native JSON.stringify writes them.
      if (shortcut && canonicalShape(v, 0)) return JSON.stringify(v);
      if (path.includes(v)) throw new Error('Circular reference detected');
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
        path.push(v);
        const r = write((v as { toJSON(): unknown }).toJSON(), path, shortcut);
        path.pop();
        return r;
      }
      path.push(v);
      let out: string;
      if (Array.isArray(v)) {
        // Vectors of finite numbers (meter readings) are written by JSON.stringify as RFC 8785 writes them.
        let plain = true;
        for (let i = 0; i < v.length && plain; i++) {
          const x: unknown = v[i];
          plain = x === null || (typeof x === 'number' && Number.isFinite(x));
        }
        if (plain) {
          path.pop();
          return JSON.stringify(v);
        }
        out = '[';
        for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + (write(v[i], path, shortcut) ?? 'null');
        out += ']';
      } else {
        out = '{';
        let first = true;
        for (const k of sortedNames(v)) {
          const x = write((v as Record<string, unknown>)[k], path, shortcut);
          if (x === undefined) continue;
          out += (first ? '' : ',') + quoted(k) + ':' + x;
          first = false;
        }
        out += '}';
      }
      path.pop();
      return out;
    }
    default:
      return undefined;
  }
}
