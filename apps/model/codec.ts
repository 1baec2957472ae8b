// A core's state as one canonical string and back: what the model checker hashes and interns.
// Plain data only (objects, arrays, Maps, Sets, primitives); anything else is refused, not guessed.

/**
 * Encodes `value` canonically: object keys sorted, Maps in insertion order (a core may iterate
 * them, so their order is state), Sets of primitives sorted (assumed: a core only asks a Set
 * `has` and `size`, as the Paxos roles do with promises and accepts), `undefined` kept.
 */
export function encodeState(value: unknown): string {
  return encode(value, 0);
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

/**
 * One pass to the text, as `JSON.stringify` of the plain form (`{"$u":0}` for undefined, `$n`
 * for non-finite numbers and -0, `$b` bigints, `$m` Maps as [key, value] pairs, `$s` Sets
 * sorted by their items' texts, objects by sorted keys), without building that form: the model
 * checker encodes every state a step reaches (test/model/paxos-model.test.ts compares the two).
 */
/** An array index as a key ("0", "17"; not "01" or "-1"), which objects list first. */
function isIndexKey(k: string): boolean {
  const c = k.charCodeAt(0);
  if (c < 48 || c > 57) return false;
  return (k === '0' || (c !== 48 && /^\d+$/.test(k))) && Number(k) < 4294967295;
}

function encode(v: unknown, depth: number): string {
  if (depth > DEPTH_MAX) throw new Error('state nested deeper than 64 levels (a cycle?)');
  if (v === undefined) return '{"$u":0}';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return JSON.stringify(v);
    case 'number':
      // -0 by its sign (String(-0) is "0": decoded, it would come back as 0).
      if (Object.is(v, -0)) return '{"$n":"-0"}';
      return Number.isFinite(v) ? JSON.stringify(v) : `{"$n":"${String(v)}"}`;
    case 'bigint':
      return `{"$b":"${v.toString()}"}`;
  }
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ',';
      out += i in v ? encode(v[i], depth + 1) : 'null';
    }
    return `${out}]`;
  }
  if (v instanceof Map) {
    let out = '{"$m":[';
    let first = true;
    for (const [k, x] of v) {
      out += `${first ? '' : ','}[${encode(k, depth + 1)},${encode(x, depth + 1)}]`;
      first = false;
    }
    return `${out}]}`;
  }
  if (v instanceof Set) {
    const items: string[] = [];
    for (const x of v) items.push(encode(x, depth + 1));
    items.sort();
    return `{"$s":[${items.join(',')}]}`;
  }
  if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    // As JSON.stringify lists a plain object: array-index keys first, in numeric order (as
    // Object.keys gives them), then the others, here sorted.
    const all = Object.keys(v);
    let indices = 0;
    while (indices < all.length && isIndexKey(all[indices]!)) indices++;
    const keys =
      indices === 0 ? all.sort() : all.slice(0, indices).concat(all.slice(indices).sort());
    let out = '{';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k.startsWith('$'))
        throw new Error(`state key ${k} starts with $ (reserved by the codec)`);
      out += `${i > 0 ? ',' : ''}${JSON.stringify(k)}:${encode((v as Record<string, unknown>)[k], depth + 1)}`;
    }
    return `${out}}`;
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
