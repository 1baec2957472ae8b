// A core's state as one canonical string and back: what the model checker hashes and interns.
// Plain data only (objects, arrays, Maps, Sets, primitives); anything else is refused, not guessed.

/**
 * Encodes `value` canonically: object keys sorted, Maps in insertion order (a core may iterate
 * them, so their order is state), Sets of primitives sorted (assumed: a core only asks a Set
 * `has` and `size`, as the Paxos roles do with promises and accepts), `undefined` kept.
 */
export function encodeState(value: unknown): string {
  return JSON.stringify(toPlain(value, 0));
}

/** The state `encodeState` wrote, rebuilt with its Maps and Sets. */
export function decodeState<T>(text: string): T {
  return fromPlain(JSON.parse(text)) as T;
}

/**
 * `decodeState` in two halves, for a caller that rebuilds one state many times: `parseState`
 * once, then `rebuildState` for each fresh copy (it never shares or changes what it is given).
 */
export function parseState(text: string): unknown {
  return JSON.parse(text);
}
export function rebuildState<T>(parsed: unknown): T {
  return fromPlain(parsed) as T;
}

const DEPTH_MAX = 64;

function toPlain(v: unknown, depth: number): unknown {
  if (depth > DEPTH_MAX) throw new Error('state nested deeper than 64 levels (a cycle?)');
  if (v === undefined) return { $u: 0 };
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || Object.is(v, -0)) return { $n: String(v) };
    return v;
  }
  if (typeof v === 'bigint') return { $b: v.toString() };
  if (Array.isArray(v)) return v.map((x) => toPlain(x, depth + 1));
  if (v instanceof Map)
    return { $m: [...v].map(([k, x]) => [toPlain(k, depth + 1), toPlain(x, depth + 1)]) };
  if (v instanceof Set) {
    const items = [...v].map((x) => toPlain(x, depth + 1));
    const keyed = items.map((x) => [JSON.stringify(x), x] as const);
    keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return { $s: keyed.map(([, x]) => x) };
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      if (k.startsWith('$'))
        throw new Error(`state key ${k} starts with $ (reserved by the codec)`);
      out[k] = toPlain((v as Record<string, unknown>)[k], depth + 1);
    }
    return out;
  }
  const what = typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
  throw new Error(`a core state must be plain data (objects, arrays, Maps, Sets): found ${what}`);
}

function fromPlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(fromPlain);
  const o = v as Record<string, unknown>;
  if ('$u' in o) return undefined;
  if ('$n' in o) return Number(o.$n);
  if ('$b' in o) return BigInt(o.$b as string);
  if ('$m' in o)
    return new Map(
      (o.$m as Array<[unknown, unknown]>).map(([k, x]) => [fromPlain(k), fromPlain(x)]),
    );
  if ('$s' in o) return new Set((o.$s as unknown[]).map(fromPlain));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) out[k] = fromPlain(o[k]);
  return out;
}
