// InventoryServer: a replicated inventory. Every replica applies the same Paxos-ordered log of
// operations (apps/rsm), so stock is the same everywhere and never negative.
//
//   procs = ['p1', 'p2', 'p3']
//   pids = procs.map((p) => InventoryServer.start(p, procs))
//   await InventoryServer.add(pids[0], 'apple', 10)   // { ok: true, stock: { apple: 10 } }
import type { Pid } from '../../actors/index.ts';
import {
  addReplica,
  type CallOptions,
  type Membership,
  type ReconfigOptions,
  removeReplica,
  runOp,
  startReplica,
  status,
} from '../rsm/client.ts';
import { type Machine, requestId } from '../rsm/machine.ts';
import type { ReplicaStatus, ServiceOptions } from '../rsm/replica.ts';
import { replica } from '../rsm/replica.ts';
import {
  applyOp,
  emptyInventory,
  type InventoryOp,
  type InventoryResult,
  type InventoryState,
  type OrderLine,
  restore,
  snapshot,
  validateOp,
} from './machine.ts';

export type { InventoryResult, OrderLine };

export const inventoryMachine: Machine<InventoryState, InventoryOp, InventoryResult> = {
  service: 'inventory',
  empty: emptyInventory,
  validate: validateOp,
  apply: applyOp,
  resultOf: (state, reqId) => state.results.get(reqId),
  snapshot,
  restore: (snap) => restore(snap as ReturnType<typeof snapshot>),
  describe: (state) => Object.fromEntries(state.stock),
  forgetResults: (state) => state.results.clear(),
  keysOf: inventoryKeys,
};

/** The items an operation touches; a view reads them all. */
export function inventoryKeys(op: InventoryOp): string[] {
  switch (op.kind) {
    case 'add':
    case 'remove':
    case 'get':
      return [op.item];
    case 'order':
      return [...new Set(op.lines.map((l) => l.item))];
    case 'view':
      return ['*'];
  }
}

/** A pid, or the name the replica was started with ('p1'). */
export type Server = Pid | string;

function run<R>(server: Server, op: InventoryOp, options: CallOptions): Promise<R> {
  return runOp<InventoryState, InventoryOp, InventoryResult, R>(
    inventoryMachine,
    server,
    op,
    options,
  );
}

const reqId = (options: CallOptions) => options.reqId ?? requestId();

/** The item of the seed's two-argument calls (its inventory is one count of units). */
export const DEFAULT_ITEM = 'units';

/** (item, qty, options) or the seed's (qty, options): the item defaults to DEFAULT_ITEM. */
function seedArgs(
  itemOrQty: unknown,
  qty: unknown,
  options: CallOptions | undefined,
): [string, unknown, CallOptions | undefined] {
  if (typeof itemOrQty === 'string') return [itemOrQty, qty, options];
  return [DEFAULT_ITEM, itemOrQty, (qty as CallOptions | undefined) ?? options];
}

/** The whole stock, linearizable (read through the log): { apple: 10, ... }. */
async function view(server: Server, options: CallOptions = {}): Promise<Record<string, number>> {
  const r = await run<InventoryResult>(server, { kind: 'view', reqId: reqId(options) }, options);
  return r.ok ? r.stock : {};
}

/**
 * add or remove in the seed's shape too: (server, item, qty, options), or the seed's
 * (server, qty, options) for DEFAULT_ITEM.
 */
const seedForm =
  (op: 'add' | 'remove') =>
  (
    server: Server,
    itemOrQty: string | number,
    qty?: number | CallOptions,
    options?: CallOptions,
  ) => {
    const [item, q, opts] = seedArgs(itemOrQty, qty, options);
    return InventoryServer[op](server, item, q as number, opts);
  };
const addToInventory = seedForm('add');
const removeFromInventory = seedForm('remove');

export const InventoryServer = {
  /** Starts replica `name` of the replicas `procs` (with its Paxos participant); returns its pid. */
  start(name: string, procs: string[], options?: ServiceOptions): Pid {
    return startReplica(inventoryMachine, name, procs, options);
  },
  /** Adds qty units of item. Resolves { ok: true, stock: { [item]: newQty } }. */
  add(server: Server, item: string, qty: number, options: CallOptions = {}) {
    return run<InventoryResult>(server, { kind: 'add', reqId: reqId(options), item, qty }, options);
  },
  /** Removes qty units, or none: { ok: false, error: 'insufficient_stock', item, requested, available }. */
  remove(server: Server, item: string, qty: number, options: CallOptions = {}) {
    return run<InventoryResult>(
      server,
      { kind: 'remove', reqId: reqId(options), item, qty },
      options,
    );
  },
  /** Removes every line of the order, or none of them (all-or-nothing). */
  order(server: Server, lines: OrderLine[], options: CallOptions = {}) {
    return run<InventoryResult>(server, { kind: 'order', reqId: reqId(options), lines }, options);
  },
  /** The whole stock, linearizable (read through the log): { apple: 10, ... }. */
  view,
  /** The stock of one item (0 if none), linearizable. */
  async get(server: Server, item: string, options: CallOptions = {}): Promise<number> {
    const r = await run<InventoryResult>(
      server,
      { kind: 'get', reqId: reqId(options), item },
      options,
    );
    return r.ok ? (r.stock[item] ?? 0) : 0;
  },
  /**
   * Adds replica `name` while the service runs, through the log: it starts (on `options.node`,
   * or this node), catches up from a member's snapshot, and serves. Resolves the new
   * configuration { epoch, members, pid }; already_member if it is one.
   */
  addReplica(server: Server, name: string, options?: ReconfigOptions): Promise<Membership> {
    return addReplica(inventoryMachine, server, name, options);
  },
  /** Removes replica `name` through the log; it stops. not_member if it is none. */
  removeReplica(server: Server, name: string, options?: CallOptions): Promise<Membership> {
    return removeReplica(inventoryMachine, server, name, options);
  },
  /** Where the replica stands: applied log position, leader, pending requests. */
  status(server: Server): Promise<ReplicaStatus> {
    return status('inventory', server);
  },
  /**
   * The seed's names. As in the Elixir seed, whose inventory is a count of units, the item may
   * be left out: `addToInventory(a, 10)` adds 10 of DEFAULT_ITEM ('units').
   */
  addToInventory,
  removeFromInventory,
  viewInventory: view,
  add_to_inventory: addToInventory,
  remove_from_inventory: removeFromInventory,
  view_inventory: view,
  /** The replica's body, for spawnOn(node, 'Services.inventory', [name, procs]). */
  replica(name: string, procs: string[], options?: ServiceOptions): Promise<void> {
    return replica(inventoryMachine, name, procs, options);
  },
};
