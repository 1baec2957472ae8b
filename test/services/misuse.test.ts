// One rule for misuse across the services and Paxos: a function that returns a promise reports
// bad arguments and unknown names by rejecting that promise with a typed ActorError (never by a
// synchronous throw); a function that returns a pid throws. Business outcomes are values.
import { afterEach, describe, expect, it } from 'vitest';
import { ActorError, Global, self } from '../../actors/index.ts';
import { DEFAULT_ITEM, InventoryServer } from '../../apps/inventory/index.ts';
import { STOCK_MAX } from '../../apps/inventory/machine.ts';
import { Paxos } from '../../apps/paxos/index.ts';
import { SeatReserve } from '../../apps/seats/index.ts';
import { resetRuntime, until } from '../helpers.ts';

afterEach(resetRuntime);

/** Calls `f` and returns how it reported misuse: 'sync' throw, or the rejection's code. */
async function misuse(f: () => unknown): Promise<string> {
  let result: unknown;
  try {
    result = f();
  } catch (err) {
    return `sync throw: ${(err as Error).message}`;
  }
  expect(result, 'returns a promise').toBeInstanceOf(Promise);
  try {
    await result;
  } catch (err) {
    expect(err).toBeInstanceOf(ActorError);
    return (err as ActorError).code;
  }
  return 'resolved';
}

let group = 0;
async function cluster() {
  group++;
  const procs = [1, 2, 3].map((i) => `m${group}p${i}`);
  const pids = procs.map((p) => InventoryServer.start(p, procs));
  const seats = [1, 2, 3].map((i) => `m${group}s${i}`);
  const srs = seats.map((s) => SeatReserve.start(s, seats));
  await until(
    () =>
      procs.every((p) => Global.whereis(`inventory:${p}`)) &&
      seats.every((s) => Global.whereis(`seats:${s}`)),
    10_000,
  );
  return { procs, pids, srs };
}

describe('misuse rejects the promise with a typed error', () => {
  it('InventoryServer: every client call', async () => {
    const { pids } = await cluster();
    const a = pids[0]!;
    const cases: Array<[string, () => unknown, string]> = [
      ['add -1', () => InventoryServer.add(a, 'apple', -1), 'invalid_argument'],
      ['add 1.5', () => InventoryServer.add(a, 'apple', 1.5), 'invalid_argument'],
      ['add a bigint', () => InventoryServer.add(a, 'apple', 3n as never), 'invalid_argument'],
      ['add no item', () => InventoryServer.add(a, '', 1), 'invalid_argument'],
      ['remove -1', () => InventoryServer.remove(a, 'apple', -1), 'invalid_argument'],
      ['order not a list', () => InventoryServer.order(a, 'x' as never), 'invalid_argument'],
      ['get no item', () => InventoryServer.get(a, 7 as never), 'invalid_argument'],
      ['add at an unknown name', () => InventoryServer.add('nobody', 'apple', 1), 'unknown_name'],
      ['view at an unknown name', () => InventoryServer.view('nobody'), 'unknown_name'],
      ['status at an unknown name', () => InventoryServer.status('nobody'), 'unknown_name'],
      ['view of a non-server', () => InventoryServer.view(42 as never), 'invalid_argument'],
      ['seed add -1', () => InventoryServer.add_to_inventory(a, -1), 'invalid_argument'],
      ['seed remove 0', () => InventoryServer.remove_from_inventory(a, 0), 'invalid_argument'],
    ];
    for (const [what, f, code] of cases) expect(await misuse(f), what).toBe(code);
    // nothing was applied by the refused calls
    expect(await InventoryServer.view(a)).toEqual({});
    // the stock is bounded so that every count stays exact: the add past it is refused whole
    const max = Number.MAX_SAFE_INTEGER;
    expect(await InventoryServer.add(a, 'grain', max)).toEqual({ ok: true, stock: { grain: max } });
    expect(await InventoryServer.add(pids[1]!, 'grain', max)).toEqual({
      ok: false,
      error: 'stock_limit',
      item: 'grain',
      requested: max,
      stock: max,
      max: STOCK_MAX,
    });
    expect(await InventoryServer.get(pids[2]!, 'grain')).toBe(max);
    // an item name that would not come back as sent (a lone surrogate) is refused up front
    expect(await misuse(() => InventoryServer.add(a, 'x\ud800', 1))).toBe('invalid_argument');
  });

  it('SeatReserve: every client call', async () => {
    const { srs } = await cluster();
    const s = srs[0]!;
    const cases: Array<[string, () => unknown, string]> = [
      ['reserve outside the hall', () => SeatReserve.reserve(s, 0, 1, 'ada'), 'invalid_argument'],
      ['reserve no user', () => SeatReserve.reserve(s, 1, 1, ''), 'invalid_argument'],
      ['getStatus outside', () => SeatReserve.getStatus(s, 11, 1), 'invalid_argument'],
      ['get_status outside', () => SeatReserve.get_status(s, 1, 0), 'invalid_argument'],
      ['reserve at an unknown name', () => SeatReserve.reserve('x', 1, 1, 'a'), 'unknown_name'],
      ['getStatusAll unknown', () => SeatReserve.getStatusAll('x'), 'unknown_name'],
      ['status unknown', () => SeatReserve.status('x'), 'unknown_name'],
    ];
    for (const [what, f, code] of cases) expect(await misuse(f), what).toBe(code);
    expect(await SeatReserve.reserve(s, 1, 1, 'ada')).toMatchObject({ ok: true });
    // a business outcome is a value
    expect(await SeatReserve.reserve(srs[1]!, 1, 1, 'bob')).toMatchObject({
      ok: false,
      error: 'taken',
      holder: 'ada',
    });
  });

  it('Paxos: the promise-returning calls reject; the coursework calls throw', async () => {
    const pid = Paxos.start(`mx${++group}`, [`mx${group}`], self());
    const cases: Array<[string, () => unknown, string]> = [
      [
        'proposeInstance inst -1',
        () => Paxos.proposeInstance(pid, -1, 'v', 100),
        'invalid_argument',
      ],
      [
        'proposeInstance timeout 0',
        () => Paxos.proposeInstance(pid, 0, 'v', 0),
        'invalid_argument',
      ],
      [
        'proposeInstance no pid',
        () => Paxos.proposeInstance({} as never, 0, 'v', 100),
        'invalid_argument',
      ],
      ['getDecision inst 1.5', () => Paxos.getDecision(pid, 1.5, 100), 'invalid_argument'],
      ['decide inst x', () => Paxos.decide(pid, 'x' as never, 'v'), 'invalid_argument'],
      ['compact -1', () => Paxos.compact(pid, -1), 'invalid_argument'],
    ];
    for (const [what, f, code] of cases) expect(await misuse(f), what).toBe(code);
    // propose(pid, value) is the coursework's two-argument call; four arguments are refused
    expect(() => (Paxos.propose as (...a: unknown[]) => void)(pid, 0, 'v', 100)).toThrow(
      /proposeInstance/,
    );
    expect(() => Paxos.start('', [], self())).toThrow(ActorError);
  });
});

describe('bad replica options', () => {
  it('start throws invalid_argument at once and starts nothing', () => {
    const procs = ['bo1', 'bo2', 'bo3'];
    for (const options of [{ batchMax: 0 }, { window: -1 }, { gapMs: Number.NaN }]) {
      let thrown: unknown;
      try {
        InventoryServer.start('bo1', procs, options);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(ActorError);
      expect((thrown as ActorError).code).toBe('invalid_argument');
      expect((thrown as ActorError).message).toMatch(/must be a number > 0/);
    }
    expect(Global.whereis('inventory:bo1')).toBeUndefined();
  });
});

describe("the seed's session, as typed", () => {
  it('add_to_inventory(a, 10) adds units of the default item; every snake_case name works', async () => {
    const { pids } = await cluster();
    const a = pids[0]!;
    expect(await InventoryServer.add_to_inventory(a, 10)).toEqual({
      ok: true,
      stock: { [DEFAULT_ITEM]: 10 },
    });
    expect(await InventoryServer.remove_from_inventory(pids[1]!, 4)).toEqual({
      ok: true,
      stock: { [DEFAULT_ITEM]: 6 },
    });
    expect(await InventoryServer.add_to_inventory(a, 'pear', 2)).toMatchObject({ ok: true });
    expect(await InventoryServer.view_inventory(pids[2]!)).toEqual({ [DEFAULT_ITEM]: 6, pear: 2 });
    expect(await InventoryServer.addToInventory(a, 1)).toEqual({
      ok: true,
      stock: { [DEFAULT_ITEM]: 7 },
    });
  });
});
