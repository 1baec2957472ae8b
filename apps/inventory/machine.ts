// The inventory's replicated state machine: every replica applies the same ordered log of
// operations with this pure function, so every replica holds the same stock.
import { ActorError, showValue } from '../../actors/index.ts';
import { opFields, remember } from '../rsm/machine.ts';

export interface OrderLine {
  item: string;
  qty: number;
}

/** An operation as it travels through the log (reqId makes a client's retry idempotent). */
export type InventoryOp =
  | { kind: 'add'; reqId: string; item: string; qty: number }
  | { kind: 'remove'; reqId: string; item: string; qty: number }
  | { kind: 'order'; reqId: string; lines: OrderLine[] }
  /** Reads placed in the log, so they reflect every operation decided before them. */
  | { kind: 'view'; reqId: string }
  | { kind: 'get'; reqId: string; item: string };

/**
 * `stock` holds the items the operation touched, with their quantities after it (0 when none
 * are left); for a view, every item in stock.
 */
export type InventoryResult =
  | { ok: true; stock: Record<string, number> }
  | { ok: false; error: 'insufficient_stock'; item: string; requested: number; available: number }
  | {
      ok: false;
      error: 'stock_limit';
      item: string;
      requested: number;
      stock: number;
      max: number;
    };

/**
 * The most units of one item the inventory holds: Number.MAX_SAFE_INTEGER, so every count is
 * exact. An add past it is refused whole (a value: it depends on the stock when it applies).
 */
export const STOCK_MAX = Number.MAX_SAFE_INTEGER;

export interface InventoryState {
  stock: Map<string, number>;
  /** Results of applied writes by reqId, oldest first (bounded: see REQUESTS_REMEMBERED). */
  results: Map<string, InventoryResult>;
  /** Log positions applied so far. */
  applied: number;
}

/** How many request results are remembered for deduplicating retries. */
export const REQUESTS_REMEMBERED = 100_000;

export function emptyInventory(): InventoryState {
  return { stock: new Map(), results: new Map(), applied: 0 };
}

function checkItem(item: unknown): asserts item is string {
  if (typeof item !== 'string' || item.trim().length === 0) {
    throw new ActorError(
      'invalid_argument',
      `an item must be a non-empty string, got ${showValue(item)}`,
    );
  }
}

function checkQty(qty: unknown): asserts qty is number {
  if (typeof qty !== 'number' || !Number.isSafeInteger(qty) || qty <= 0) {
    throw new ActorError(
      'invalid_argument',
      `a quantity must be a positive integer, got ${showValue(qty)}`,
    );
  }
}

/** Rejects malformed operations before anything is proposed (typed invalid_argument errors). */
export function validateOp(op: unknown): asserts op is InventoryOp {
  const o = opFields(op);
  switch (o.kind) {
    case 'add':
    case 'remove':
      checkItem(o.item);
      checkQty(o.qty);
      return;
    case 'order': {
      if (!Array.isArray(o.lines) || o.lines.length === 0)
        throw new ActorError('invalid_argument', 'an order needs at least one line');
      const seen = new Set<string>();
      for (const line of o.lines as unknown[]) {
        const l = (line ?? {}) as Record<string, unknown>;
        checkItem(l.item);
        checkQty(l.qty);
        if (seen.has(l.item))
          throw new ActorError('invalid_argument', `item '${l.item}' appears twice in one order`);
        seen.add(l.item);
      }
      return;
    }
    case 'view':
      return;
    case 'get':
      checkItem(o.item);
      return;
    default:
      throw new ActorError('invalid_argument', `unknown operation kind ${showValue(o.kind)}`);
  }
}

function snapshotStock(stock: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...stock].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function touched(stock: Map<string, number>, items: string[]): Record<string, number> {
  return Object.fromEntries(items.map((item) => [item, stock.get(item) ?? 0]));
}

/**
 * Applies the operation at the next log position. A write already applied returns its first
 * result unchanged (a client's retry is applied once). Removals and orders apply wholly or not
 * at all; stock never goes negative. Reads are not remembered (repeating one is harmless).
 */
export function applyOp(state: InventoryState, op: InventoryOp): InventoryResult {
  state.applied++;
  if (op.kind === 'view') return { ok: true, stock: snapshotStock(state.stock) };
  if (op.kind === 'get') return { ok: true, stock: touched(state.stock, [op.item]) };
  const previous = state.results.get(op.reqId);
  if (previous) return previous;
  let result: InventoryResult;
  switch (op.kind) {
    case 'add': {
      const stock = state.stock.get(op.item) ?? 0;
      if (op.qty > STOCK_MAX - stock) {
        result = {
          ok: false,
          error: 'stock_limit',
          item: op.item,
          requested: op.qty,
          stock,
          max: STOCK_MAX,
        };
        break;
      }
      state.stock.set(op.item, stock + op.qty);
      result = { ok: true, stock: touched(state.stock, [op.item]) };
      break;
    }
    case 'remove':
    case 'order': {
      const lines = op.kind === 'remove' ? [{ item: op.item, qty: op.qty }] : op.lines;
      const short = lines.find((l) => (state.stock.get(l.item) ?? 0) < l.qty);
      if (short) {
        result = {
          ok: false,
          error: 'insufficient_stock',
          item: short.item,
          requested: short.qty,
          available: state.stock.get(short.item) ?? 0,
        };
        break;
      }
      for (const l of lines) {
        const left = state.stock.get(l.item)! - l.qty;
        if (left === 0) state.stock.delete(l.item);
        else state.stock.set(l.item, left);
      }
      result = {
        ok: true,
        stock: touched(
          state.stock,
          lines.map((l) => l.item),
        ),
      };
      break;
    }
  }
  remember(state.results, op.reqId, result, REQUESTS_REMEMBERED);
  return result;
}

/** A compact, serialisable copy of the state (for snapshots when the log grows). */
export function snapshot(state: InventoryState): {
  stock: Array<[string, number]>;
  results: Array<[string, InventoryResult]>;
  applied: number;
} {
  return { stock: [...state.stock], results: [...state.results], applied: state.applied };
}

export function restore(snap: ReturnType<typeof snapshot>): InventoryState {
  return { stock: new Map(snap.stock), results: new Map(snap.results), applied: snap.applied };
}
