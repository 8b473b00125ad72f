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

function write(v: unknown, path: object[]): string | undefined {
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`${v} has no JSON form`);
      return JSON.stringify(v);
    case 'string':
      if (!v.isWellFormed()) throw new Error('Lone surrogate is not allowed');
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (path.includes(v)) throw new Error('Circular reference detected');
      if (typeof (v as { toJSON?: unknown }).toJSON === 'function') {
        path.push(v);
        const r = write((v as { toJSON(): unknown }).toJSON(), path);
        path.pop();
        return r;
      }
      path.push(v);
      let out: string;
      if (Array.isArray(v)) {
        out = '[';
        for (let i = 0; i < v.length; i++) out += (i === 0 ? '' : ',') + (write(v[i], path) ?? 'null');
        out += ']';
      } else {
        out = '{';
        let first = true;
        for (const k of Object.keys(v).sort()) {
          const x = write((v as Record<string, unknown>)[k], path);
          if (x === undefined) continue;
          if (!k.isWellFormed()) throw new Error('Lone surrogate is not allowed');
          out += (first ? '' : ',') + JSON.stringify(k) + ':' + x;
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
