import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyOp,
  emptyInventory,
  type InventoryOp,
  REQUESTS_REMEMBERED,
  restore,
  snapshot,
  validateOp,
} from '../../apps/inventory/machine.ts';

const add = (reqId: string, item: string, qty: number): InventoryOp => ({
  kind: 'add',
  reqId,
  item,
  qty,
});
const remove = (reqId: string, item: string, qty: number): InventoryOp => ({
  kind: 'remove',
  reqId,
  item,
  qty,
});

describe('inventory state machine', () => {
  it('two clients removing the last unit: exactly one succeeds, stock never negative', () => {
    const s = emptyInventory();
    applyOp(s, add('a', 'apple', 1));
    const first = applyOp(s, remove('c1', 'apple', 1));
    const second = applyOp(s, remove('c2', 'apple', 1));
    expect(first).toEqual({ ok: true, stock: { apple: 0 } });
    expect(second).toEqual({
      ok: false,
      error: 'insufficient_stock',
      item: 'apple',
      requested: 1,
      available: 0,
    });
  });

  it('an order applies wholly or not at all', () => {
    const s = emptyInventory();
    applyOp(s, add('a1', 'apple', 5));
    applyOp(s, add('a2', 'pear', 1));
    const refused = applyOp(s, {
      kind: 'order',
      reqId: 'o1',
      lines: [
        { item: 'apple', qty: 2 },
        { item: 'pear', qty: 2 },
      ],
    });
    expect(refused).toMatchObject({ ok: false, item: 'pear', available: 1 });
    expect(applyOp(s, { kind: 'view', reqId: 'v1' })).toEqual({
      ok: true,
      stock: { apple: 5, pear: 1 },
    });
    expect(
      applyOp(s, {
        kind: 'order',
        reqId: 'o2',
        lines: [
          { item: 'apple', qty: 2 },
          { item: 'pear', qty: 1 },
        ],
      }),
    ).toEqual({ ok: true, stock: { apple: 3, pear: 0 } });
  });

  it('a retry with the same request id is applied once and gets the first answer', () => {
    const s = emptyInventory();
    expect(applyOp(s, add('same', 'apple', 3))).toEqual({ ok: true, stock: { apple: 3 } });
    expect(applyOp(s, add('same', 'apple', 3))).toEqual({ ok: true, stock: { apple: 3 } });
    expect(applyOp(s, { kind: 'view', reqId: 'v' })).toEqual({ ok: true, stock: { apple: 3 } });
  });

  it('remembers a bounded number of request ids', () => {
    const s = emptyInventory();
    for (let i = 0; i <= REQUESTS_REMEMBERED; i++) applyOp(s, add(`r${i}`, 'apple', 1));
    expect(s.results.size).toBe(REQUESTS_REMEMBERED);
    expect(s.results.has('r0')).toBe(false);
    // Reads are not remembered: repeating one is harmless.
    applyOp(s, { kind: 'view', reqId: 'v' });
    expect(s.results.has('v')).toBe(false);
    expect(applyOp(s, { kind: 'get', reqId: 'g', item: 'apple' })).toEqual({
      ok: true,
      stock: { apple: REQUESTS_REMEMBERED + 1 },
    });
  });

  it('rejects bad input with typed errors before anything is applied', () => {
    const bad: unknown[] = [
      add('x', 'apple', 0),
      add('x', 'apple', -1),
      add('x', 'apple', 1.5),
      add('x', '', 1),
      add('x', 42 as never, 1),
      { kind: 'add', item: 'apple', qty: 1 },
      { kind: 'order', reqId: 'x', lines: [] },
      {
        kind: 'order',
        reqId: 'x',
        lines: [
          { item: 'a', qty: 1 },
          { item: 'a', qty: 2 },
        ],
      },
      { kind: 'explode', reqId: 'x' },
      null,
    ];
    for (const op of bad)
      expect(() => validateOp(op), JSON.stringify(op)).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    expect(() => validateOp(add('ok', 'apple', 2))).not.toThrow();
  });

  it('replicas applying the same log agree; snapshots restore the same state', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('add' as const),
        reqId: fc.string({ minLength: 1, maxLength: 3 }),
        item: fc.constantFrom('a', 'b', 'c'),
        qty: fc.integer({ min: 1, max: 5 }),
      }),
      fc.record({
        kind: fc.constant('remove' as const),
        reqId: fc.string({ minLength: 1, maxLength: 3 }),
        item: fc.constantFrom('a', 'b', 'c'),
        qty: fc.integer({ min: 1, max: 5 }),
      }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.integer({ min: 0, max: 200 }),
        (log, cut) => {
          const a = emptyInventory();
          const b = emptyInventory();
          const resultsA = log.map((o) => applyOp(a, o));
          const resultsB = log.map((o) => applyOp(b, o));
          expect(resultsB).toEqual(resultsA);
          for (const qty of a.stock.values()) expect(qty).toBeGreaterThan(0);
          // A replica restored from a snapshot taken at `cut` and replaying the rest ends the same.
          const c = emptyInventory();
          const at = Math.min(cut, log.length);
          for (const o of log.slice(0, at)) applyOp(c, o);
          const d = restore(JSON.parse(JSON.stringify(snapshot(c))));
          for (const o of log.slice(at)) applyOp(d, o);
          expect(snapshot(d)).toEqual(snapshot(a));
        },
      ),
      { numRuns: 300 },
    );
  });
});
