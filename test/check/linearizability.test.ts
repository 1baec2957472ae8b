import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appendHistory,
  type HistoryEntry,
  HistoryError,
  type InventoryInput,
  readHistory,
  writeHistory,
} from '../../apps/check/history.ts';
import { type CheckResult, checkLinearizable } from '../../apps/check/linearizability.ts';
import { applyOp, emptyInventory, type InventoryOp } from '../../apps/inventory/machine.ts';
import { seededRandom } from '../../transport/faults.ts';
import { scaledMs } from '../../transport/timeouts.ts';

// ---------------------------------------------------------------------------------------------
// Helpers: a seeded PRNG, the service's own state machine as the reference model, a validator
// for the linearizations the checker returns, an exhaustive reference checker for small
// histories, and a generator of linearizable histories from simulated sequential executions.

let reqIds = 0;
/** Applies an input with apps/inventory/machine.ts (a fresh reqId: applyOp dedupes by reqId). */
function apply(state: ReturnType<typeof emptyInventory>, input: InventoryInput) {
  return applyOp(state, { ...input, reqId: `t${reqIds++}` } as InventoryOp);
}

function stateWith(initial: Record<string, number>) {
  const state = emptyInventory();
  for (const [item, qty] of Object.entries(initial))
    if (qty > 0) apply(state, { kind: 'add', item, qty });
  return state;
}

function indeterminate(e: HistoryEntry): boolean {
  const out = e.output as { ok?: unknown } | null | undefined;
  return e.ret === null || typeof out !== 'object' || out === null || typeof out.ok !== 'boolean';
}

/** Checks a linearization independently: real-time order, and every output by applyOp. */
function expectValid(history: HistoryEntry[], result: CheckResult, initial = {}): void {
  expect(result.ok, result.ok === false ? result.reason : '').toBe(true);
  if (result.ok !== true) return;
  const order = result.linearization;
  const byId = new Map(history.map((e) => [e.id, e]));
  const problems: string[] = [];
  if (new Set(order).size !== order.length) problems.push('an entry placed twice');
  const placed = new Set(order);
  for (const e of history) {
    if (!indeterminate(e) && !placed.has(e.id)) problems.push(`#${e.id} left out`);
  }
  const entries = order.map((id) => byId.get(id)!);
  // Real time: nothing placed after an entry may have returned before that entry was called.
  let minLaterRet = Number.POSITIVE_INFINITY;
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i]!;
    if (minLaterRet < e.call)
      problems.push(`#${e.id} placed after an entry that returned before it was called`);
    if (!indeterminate(e)) minLaterRet = Math.min(minLaterRet, e.ret!);
  }
  const state = stateWith(initial);
  for (const e of entries) {
    const out = apply(state, e.input);
    if (!indeterminate(e) && JSON.stringify(sortKeys(out)) !== JSON.stringify(sortKeys(e.output)))
      problems.push(`#${e.id}: model ${JSON.stringify(out)}, recorded ${JSON.stringify(e.output)}`);
  }
  expect(problems).toEqual([]);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

/** Exhaustive reference: any order respecting real time, any subset of indeterminate entries. */
function bruteForce(history: HistoryEntry[], initial: Record<string, number> = {}): boolean {
  const n = history.length;
  const placed = new Array<boolean>(n).fill(false);
  const determinate = history.filter((e) => !indeterminate(e)).length;
  const go = (stock: Map<string, number>, done: number): boolean => {
    if (done === determinate) return true;
    for (let i = 0; i < n; i++) {
      if (placed[i]) continue;
      const e = history[i]!;
      const blocked = history.some(
        (f, j) => j !== i && !placed[j] && !indeterminate(f) && f.ret! < e.call,
      );
      if (blocked) continue;
      const state = { ...emptyInventory(), stock: new Map(stock) };
      const out = apply(state, e.input);
      if (!indeterminate(e) && JSON.stringify(sortKeys(out)) !== JSON.stringify(sortKeys(e.output)))
        continue;
      placed[i] = true;
      const ok = go(state.stock, done + (indeterminate(e) ? 0 : 1));
      placed[i] = false;
      if (ok) return true;
    }
    return false;
  };
  return go(stateWith(initial).stock, 0);
}

interface GenOptions {
  seed: number;
  ops: number;
  clients: number;
  items: number;
  /** How many entries end up indeterminate (half of them never take effect). */
  indeterminate: number;
  /** How far (ms) an interval may stretch either side of its linearization point. */
  widen: number;
}

/**
 * A linearizable history: a sequential execution (one operation every 10 ms, run by applyOp)
 * whose operations are handed to clients at random, each interval then widened at random around
 * its point, keeping each client's operations one at a time. Some become indeterminate: no
 * response (ret null) or a client error ({ error: 'timeout' }); half of those never took effect.
 */
function generate(o: GenOptions): HistoryEntry[] {
  const rnd = seededRandom(o.seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const items = Array.from({ length: o.items }, (_, i) => `item${i}`);
  const pick = () => items[int(items.length)]!;
  const qty = () => 1 + int(3);
  const randomInput = (): InventoryInput => {
    const r = rnd();
    if (r < 0.3) return { kind: 'add', item: pick(), qty: qty() };
    if (r < 0.55) return { kind: 'remove', item: pick(), qty: qty() };
    if (r < 0.65) {
      const first = pick();
      const others = items.filter((i) => i !== first);
      const lines = [{ item: first, qty: qty() }];
      if (others.length > 0 && rnd() < 0.7)
        lines.push({ item: others[int(others.length)]!, qty: qty() });
      return { kind: 'order', lines };
    }
    if (r < 0.85) return { kind: 'get', item: pick() };
    return { kind: 'view' };
  };
  const fate = new Map<number, 'lost' | 'applied' | 'error-applied' | 'error-lost'>();
  const fates = ['lost', 'applied', 'error-applied', 'error-lost'] as const;
  while (fate.size < Math.min(o.indeterminate, o.ops)) fate.set(int(o.ops), fates[int(4)]!);
  const state = emptyInventory();
  const entries: HistoryEntry[] = [];
  for (let k = 0; k < o.ops; k++) {
    const input = randomInput();
    const f = fate.get(k);
    const output = f === 'lost' || f === 'error-lost' ? undefined : apply(state, input);
    const point = 10 * k + 5;
    entries.push({ id: k, client: `c${int(o.clients)}`, input, call: point, ret: point, output });
  }
  const byClient = new Map<string, HistoryEntry[]>();
  for (const e of entries) {
    const mine = byClient.get(e.client) ?? [];
    mine.push(e);
    byClient.set(e.client, mine);
  }
  for (const mine of byClient.values()) {
    let previousRet = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < mine.length; j++) {
      const e = mine[j]!;
      const point = e.call;
      const nextPoint = mine[j + 1]?.call ?? Number.POSITIVE_INFINITY;
      e.call = point - int(Math.min(o.widen, point - previousRet - 1) + 1);
      e.ret = point + int(Math.min(o.widen, nextPoint - point - 1) + 1);
      previousRet = e.ret;
    }
  }
  for (const [k, f] of fate) {
    const e = entries[k]!;
    if (f === 'lost' || f === 'applied') {
      e.ret = null;
      delete e.output;
    } else e.output = { error: 'timeout' };
  }
  return entries;
}

/** Changes one determinate output a little (a quantity off by one, or a refusal's available). */
function corrupt(history: HistoryEntry[], rnd: () => number): HistoryEntry[] {
  const copy: HistoryEntry[] = JSON.parse(JSON.stringify(history));
  const candidates = copy.filter((e) => !indeterminate(e));
  const e = candidates[Math.floor(rnd() * candidates.length)]!;
  const out = e.output as Record<string, unknown>;
  if (out.ok === true) {
    const stock = out.stock as Record<string, number>;
    const keys = Object.keys(stock);
    if (keys.length === 0) stock.item0 = 1;
    else {
      const key = keys[Math.floor(rnd() * keys.length)]!;
      stock[key] = stock[key]! + (stock[key] === 0 || rnd() < 0.5 ? 1 : -1);
    }
  } else out.available = (out.available as number) + 1;
  return copy;
}

let ids = 0;
function entry(
  client: string,
  input: InventoryInput,
  call: number,
  ret: number | null,
  output?: unknown,
): HistoryEntry {
  return ret === null
    ? { id: ids++, client, input, call, ret }
    : { id: ids++, client, input, call, ret, output };
}
const add = (item: string, qty: number): InventoryInput => ({ kind: 'add', item, qty });
const remove = (item: string, qty: number): InventoryInput => ({ kind: 'remove', item, qty });
const get = (item: string): InventoryInput => ({ kind: 'get', item });
const view: InventoryInput = { kind: 'view' };
const okStock = (stock: Record<string, number>) => ({ ok: true, stock });
const short = (item: string, requested: number, available: number) => ({
  ok: false,
  error: 'insufficient_stock',
  item,
  requested,
  available,
});

function expectRejected(history: HistoryEntry[], culprit: number): string {
  const result = checkLinearizable(history);
  expect(result.ok).toBe(false);
  if (result.ok !== false) return '';
  expect(result.reason).toMatch(/^not linearizable: the longest linearizable prefix/);
  expect(result.reason).toContain(`#${culprit} `);
  expect(result.unplaced.map((u) => u.id)).toContain(culprit);
  return result.reason;
}

// ---------------------------------------------------------------------------------------------

describe('checkLinearizable accepts', () => {
  it('an empty history, and a sequential one', () => {
    expect(checkLinearizable([])).toEqual({ ok: true, linearization: [] });
    ids = 0;
    const h = [
      entry('a', add('apple', 3), 0, 1, okStock({ apple: 3 })),
      entry('a', remove('apple', 2), 2, 3, okStock({ apple: 1 })),
      entry('b', remove('apple', 2), 4, 5, short('apple', 2, 1)),
      entry(
        'b',
        { kind: 'order', lines: [{ item: 'apple', qty: 1 }] },
        6,
        7,
        okStock({ apple: 0 }),
      ),
      entry('a', view, 8, 9, okStock({})),
      entry('a', get('apple'), 10, 11, okStock({ apple: 0 })),
    ];
    const result = checkLinearizable(h);
    expect(result).toEqual({ ok: true, linearization: [0, 1, 2, 3, 4, 5] });
    expectValid(h, result);
  });

  it('concurrent adds and removes linearizable only against call order', () => {
    ids = 1;
    const h = [
      // Called first, takes effect second: it saw the other add's unit.
      entry('c1', add('a', 1), 0, 100, okStock({ a: 2 })),
      entry('c2', add('a', 1), 10, 20, okStock({ a: 1 })),
      entry('c3', remove('a', 2), 30, 120, okStock({ a: 0 })),
      entry('c4', get('a'), 40, 50, okStock({ a: 1 })),
      // A refusal that must come after the remove although called before it returned.
      entry('c5', remove('a', 1), 35, 130, short('a', 1, 0)),
    ];
    const result = checkLinearizable(h);
    expect(result).toEqual({ ok: true, linearization: [2, 4, 1, 3, 5] });
    expectValid(h, result);
  });

  it('indeterminate entries that took effect and ones that did not (no response, client error)', () => {
    ids = 0;
    const h = [
      entry('c1', add('a', 5), 0, null), // took effect (seen below)
      entry('c2', add('b', 3), 0, null), // never took effect
      entry('c3', add('c', 2), 1, 4, { error: 'timeout' }), // took effect, client saw an error
      entry('c4', remove('a', 9), 2, 5, { error: 'closed', code: 'noproc' }), // never
      entry('c5', get('a'), 3, null), // an indeterminate read: dropped
      entry('c6', view, 10, 20, okStock({ a: 5, c: 2 })),
      entry('c6', remove('a', 5), 30, 40, okStock({ a: 0 })),
    ];
    const result = checkLinearizable(h);
    expectValid(h, result);
    // The read-only and the never-applied indeterminate entries are left out.
    expect(result.ok === true && [...result.linearization].sort()).toEqual([0, 2, 5, 6]);
  });

  it('several indeterminate entries that only explain a read together', () => {
    ids = 0;
    const h = [
      entry('c1', add('a', 1), 0, null),
      entry('c2', add('a', 2), 0, null),
      entry('c3', add('a', 4), 0, null),
      entry('c4', get('a'), 10, 20, okStock({ a: 3 })),
      entry('c4', get('a'), 30, 40, okStock({ a: 7 })),
    ];
    const result = checkLinearizable(h);
    expectValid(h, result);
  });

  it('a run of indeterminate entries with an order between them', () => {
    ids = 0;
    const h = [
      entry('c0', { kind: 'order', lines: [{ item: 'a', qty: 1 }] }, 0, null),
      entry('c1', add('a', 3), 8, 19, { error: 'timeout' }),
      entry('c2', add('a', 1), 22, null),
      entry('c3', remove('a', 3), 10, 33, short('a', 3, 2)),
    ];
    const result = checkLinearizable(h);
    expectValid(h, result);
    expect(result.ok === true && result.linearization).toEqual([1, 0, 3]);
  });

  it('indeterminate entries linked through an order to the read that needs them', () => {
    ids = 0;
    const h = [
      entry('c0', add('a', 3), 10, 23, okStock({ a: 3 })),
      entry(
        'c1',
        {
          kind: 'order',
          lines: [
            { item: 'a', qty: 3 },
            { item: 'b', qty: 1 },
          ],
        },
        12,
        null,
      ),
      entry('c2', add('b', 1), 25, null), // only to let the order through
      entry('c3', get('a'), 30, 44, okStock({ a: 0 })),
    ];
    const result = checkLinearizable(h);
    expectValid(h, result);
    expect(result.ok === true && result.linearization).toEqual([0, 2, 1, 3]);
  });

  it('a configuration met again with fewer indeterminate entries placed (found by fuzzing)', () => {
    ids = 0;
    const order2: InventoryInput = { kind: 'order', lines: [{ item: 'a', qty: 2 }] };
    const h = [
      entry('c0', view, 34, 57, okStock({ a: 1 })),
      entry('c1', order2, 22, 30, okStock({ a: 0 })),
      entry('c2', add('a', 2), 26, null),
      entry('c3', order2, 13, null),
      entry('c4', remove('a', 1), 21, 36, okStock({ a: 1 })),
      // Touches the order's call at 22: concurrent with it, so it may follow it.
      entry('c5', view, 20, 22, okStock({})),
      entry('c6', view, 8, null),
    ];
    expectValid(h, checkLinearizable(h, { initial: { a: 2 } }), { a: 2 });
  });

  it('starts from opts.initial', () => {
    ids = 0;
    const h = [entry('c1', remove('a', 2), 0, 1, okStock({ a: 1 }))];
    expect(checkLinearizable(h).ok).toBe(false);
    expectValid(h, checkLinearizable(h, { initial: { a: 3 } }), { a: 3 });
  });

  it('random linearizable histories: simulated executions with widened intervals (120 seeds)', () => {
    for (let seed = 1; seed <= 120; seed++) {
      const rnd = seededRandom(seed * 31);
      const history = generate({
        seed,
        ops: 50 + Math.floor(rnd() * 250),
        clients: 2 + Math.floor(rnd() * 7),
        items: 1 + Math.floor(rnd() * 5),
        indeterminate: Math.floor(rnd() * 12),
        widen: 5 + Math.floor(rnd() * 60),
      });
      expectValid(history, checkLinearizable(history, { timeoutMs: scaledMs(10_000) }));
    }
  });

  it('3,000 operations from 6 clients with 20 indeterminate, well under 5 s', () => {
    for (const seed of [1, 2, 3]) {
      const history = generate({
        seed,
        ops: 3000,
        clients: 6,
        items: 4,
        indeterminate: 20,
        widen: 30,
      });
      const started = performance.now();
      const result = checkLinearizable(history);
      const ms = performance.now() - started;
      expectValid(history, result);
      expect(ms).toBeLessThan(scaledMs(5000)); // scaled on a slow or loaded machine
    }
  });

  it('6,000 operations without running out of stack', () => {
    const history = generate({
      seed: 7,
      ops: 6000,
      clients: 6,
      items: 3,
      indeterminate: 10,
      widen: 20,
    });
    expectValid(history, checkLinearizable(history));
  });
});

describe('checkLinearizable rejects', () => {
  it('a stale read: a get that misses an add completed before it was called', () => {
    ids = 0;
    const reason = expectRejected(
      [
        entry('c1', add('apple', 1), 0, 10, okStock({ apple: 1 })),
        entry('c2', get('apple'), 20, 30, okStock({ apple: 0 })),
      ],
      1,
    );
    expect(reason).toContain('get apple -> {"ok":true,"stock":{"apple":0}}');
    expect(reason).toContain('the model gives {"ok":true,"stock":{"apple":1}}');
  });

  it('a stale view', () => {
    ids = 0;
    expectRejected(
      [
        entry('c1', add('apple', 1), 0, 10, okStock({ apple: 1 })),
        entry('c1', add('pear', 2), 11, 12, okStock({ pear: 2 })),
        entry('c2', view, 20, 30, okStock({ apple: 1 })),
      ],
      2,
    );
  });

  it('a lost write: an acknowledged add never visible to later reads', () => {
    ids = 0;
    expectRejected(
      [
        entry('c1', add('apple', 5), 0, 10, okStock({ apple: 5 })),
        entry('c2', view, 20, 30, okStock({})),
        entry('c3', get('apple'), 40, 50, okStock({ apple: 0 })),
      ],
      1,
    );
  });

  it('a double sale: two removes of the last unit both succeed', () => {
    ids = 0;
    const h = [
      entry('c0', add('apple', 1), 0, 10, okStock({ apple: 1 })),
      entry('c1', remove('apple', 1), 20, 40, okStock({ apple: 0 })),
      entry('c2', remove('apple', 1), 25, 45, okStock({ apple: 0 })),
    ];
    const result = checkLinearizable(h);
    expect(result.ok).toBe(false);
    if (result.ok !== false) return;
    expect(result.longestPrefix).toHaveLength(2);
    expect(result.unplaced).toHaveLength(1);
    expect(result.unplaced[0]!.model).toEqual(short('apple', 1, 0));
    expect(result.reason).toContain('insufficient_stock');
  });

  it('a partial order: ok, yet a later view shows only one of its lines applied', () => {
    ids = 0;
    expectRejected(
      [
        entry('c1', add('a', 1), 0, 10, okStock({ a: 1 })),
        entry('c2', add('b', 1), 0, 10, okStock({ b: 1 })),
        entry(
          'c1',
          {
            kind: 'order',
            lines: [
              { item: 'a', qty: 1 },
              { item: 'b', qty: 1 },
            ],
          },
          20,
          30,
          okStock({ a: 0, b: 0 }),
        ),
        entry('c2', view, 40, 50, okStock({ b: 1 })),
      ],
      3,
    );
  });

  it('an insufficient_stock refusal when stock was sufficient in every order', () => {
    ids = 0;
    expectRejected(
      [
        entry('c0', add('a', 5), 0, 10, okStock({ a: 5 })),
        entry('c1', add('a', 3), 20, 40, okStock({ a: 8 })),
        entry('c2', remove('a', 4), 25, 45, short('a', 4, 3)),
      ],
      2,
    );
  });

  it('what no indeterminate entry can explain', () => {
    ids = 0;
    expectRejected(
      [
        entry('c1', add('a', 2), 0, null),
        entry('c2', add('a', 2), 1, 2, { error: 'timeout' }),
        entry('c3', get('a'), 10, 20, okStock({ a: 3 })),
      ],
      2,
    );
  });

  it('most corrupted random histories (one output changed), never throwing', () => {
    let rejected = 0;
    const runs = 60;
    for (let seed = 1; seed <= runs; seed++) {
      const rnd = seededRandom(seed * 17);
      const history = generate({
        seed: 1000 + seed,
        ops: 100 + Math.floor(rnd() * 200),
        clients: 3 + Math.floor(rnd() * 4),
        items: 1 + Math.floor(rnd() * 4),
        indeterminate: Math.floor(rnd() * 8),
        widen: 10 + Math.floor(rnd() * 40),
      });
      const result = checkLinearizable(corrupt(history, rnd), {
        timeoutMs: scaledMs(10_000),
      });
      expect(result.ok).not.toBe('unknown');
      if (result.ok === false) rejected++;
    }
    expect(rejected).toBeGreaterThanOrEqual(runs * 0.8);
  });
});

describe('checkLinearizable against an exhaustive search', () => {
  it('agrees on 3,000 small random histories (linearizable or not, indeterminate entries)', () => {
    let linearizable = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const rnd = seededRandom(seed * 104_729);
      const int = (n: number) => Math.floor(rnd() * n);
      const items = Array.from({ length: 1 + int(3) }, (_, i) => `i${i}`);
      const pick = () => items[int(items.length)]!;
      const qty = () => 1 + int(3);
      const n = 3 + int(7);
      const inputs: InventoryInput[] = [];
      for (let k = 0; k < n; k++) {
        const r = rnd();
        if (r < 0.35) inputs.push(add(pick(), qty()));
        else if (r < 0.55) inputs.push(remove(pick(), qty()));
        else if (r < 0.7) {
          const lines = [{ item: pick(), qty: qty() }];
          for (const item of items)
            if (item !== lines[0]!.item && rnd() < 0.5) lines.push({ item, qty: qty() });
          inputs.push({ kind: 'order', lines });
        } else if (r < 0.85) inputs.push(get(pick()));
        else inputs.push(view);
      }
      // Outputs from one random order (ignoring real time), so some histories are linearizable.
      const initial: Record<string, number> = rnd() < 0.3 ? { i0: int(4) } : {};
      const state = stateWith(initial);
      const outputs: unknown[] = [];
      for (const k of [...inputs.keys()].sort(() => rnd() - 0.5))
        outputs[k] = apply(state, inputs[k]!);
      const history = inputs.map((input, k): HistoryEntry => {
        const call = int(40);
        const e: HistoryEntry = { id: k, client: `c${k}`, input, call, ret: call + int(25) };
        const r = rnd();
        if (r < 0.25) e.ret = null;
        else e.output = r < 0.35 ? { error: 'timeout' } : outputs[k];
        return e;
      });
      const expected = bruteForce(history, initial);
      const result = checkLinearizable(history, { initial });
      expect(result.ok, `seed ${seed}: ${JSON.stringify(history)}`).toBe(expected);
      if (expected) {
        expectValid(history, result, initial);
        linearizable++;
      }
    }
    expect(linearizable).toBeGreaterThan(500);
    expect(linearizable).toBeLessThan(2500);
  });
});

describe('checkLinearizable limits', () => {
  it('returns unknown when the time runs out', () => {
    // 30 indeterminate adds of distinct powers of two, and a read no subset of them explains:
    // 2^30 subsets to rule out.
    ids = 0;
    const h: HistoryEntry[] = [];
    for (let i = 0; i < 30; i++) h.push(entry(`c${i}`, add('a', 2 ** i), 0, null));
    h.push(entry('r', get('a'), 10, 20, okStock({ a: 2 ** 30 })));
    const started = performance.now();
    expect(checkLinearizable(h, { timeoutMs: 50 })).toEqual({ ok: 'unknown', reason: 'timeout' });
    expect(performance.now() - started).toBeLessThan(scaledMs(2000));
  });

  it('throws a HistoryError for a malformed history', () => {
    ids = 0;
    const backwards = [entry('c1', get('a'), 10, 5, okStock({ a: 0 }))];
    expect(() => checkLinearizable(backwards)).toThrow(HistoryError);
    expect(() => checkLinearizable(backwards)).toThrow(/returns \(ret=5\) before it is called/);
    const twice = [
      { id: 1, client: 'c', input: view, call: 0, ret: 1, output: okStock({}) },
      { id: 1, client: 'c', input: view, call: 2, ret: 3, output: okStock({}) },
    ];
    expect(() => checkLinearizable(twice)).toThrow(/id 1 appears more than once/);
    const unknownKind = [{ id: 1, client: 'c', input: { kind: 'steal' }, call: 0, ret: 1 }];
    expect(() => checkLinearizable(unknownKind as unknown as HistoryEntry[])).toThrow(HistoryError);
  });
});

describe('history files', () => {
  it('writeHistory / appendHistory / readHistory round-trip as JSON Lines', () => {
    const dir = mkdtempSync(join(tmpdir(), 'history-'));
    try {
      const path = join(dir, 'run.jsonl');
      const history = generate({
        seed: 5,
        ops: 40,
        clients: 3,
        items: 2,
        indeterminate: 6,
        widen: 20,
      });
      writeHistory(path, history.slice(0, 30));
      appendHistory(path, history.slice(30));
      const read = readHistory(path);
      expect(read).toEqual(history);
      expect(checkLinearizable(read)).toEqual(checkLinearizable(history));

      writeFileSync(path, `${JSON.stringify(history[0])}\n{"id": 2, "client": "c"\n`);
      expect(() => readHistory(path)).toThrow(/run\.jsonl:2: not JSON/);
      writeFileSync(path, `${JSON.stringify({ ...history[0], ret: 'soon' })}\n`);
      expect(() => readHistory(path)).toThrow(/run\.jsonl:1: entry #0: ret must be/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
