// The record of a chaos run against the inventory service: every client operation with when it
// was invoked and when (if ever) it returned, as the linearizability checker (linearizability.ts)
// reads it. Saved as JSON Lines, one entry per line, so a run can be checked again later.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import type { OrderLine } from '../inventory/machine.ts';

/** An inventory operation as a client issues it (the service's InventoryOp without its reqId). */
export type InventoryInput =
  | { kind: 'add'; item: string; qty: number }
  | { kind: 'remove'; item: string; qty: number }
  | { kind: 'order'; lines: OrderLine[] }
  | { kind: 'view' }
  | { kind: 'get'; item: string };

/**
 * One client operation.
 *
 * - `call` and `ret` are read from one monotonic clock (ms) shared by every client.
 * - `ret === null`: no response was seen. The operation is indeterminate: it may have taken
 *   effect at any time after `call`, or never.
 * - `output` is what the client got back when `ret !== null`. Only a model-shaped result (an
 *   object with a boolean `ok`, i.e. an InventoryResult) constrains the check; anything else
 *   (say `{ error: 'timeout' }` recorded for a call that failed on the client's side) makes the
 *   entry indeterminate too, exactly as if `ret` were null.
 */
export interface HistoryEntry {
  /** Unique per entry. */
  id: number;
  /** Who issued it; a client issues one operation at a time. */
  client: string;
  input: InventoryInput;
  /** Invocation time (ms). */
  call: number;
  /** Response time (ms), or null when no response was seen (indeterminate). */
  ret: number | null;
  /** The response, when ret !== null. */
  output?: unknown;
}

/** A malformed history (or history file): the message says which entry and why. */
export class HistoryError extends Error {
  override name = 'HistoryError';
  constructor(
    message: string,
    /** The offending entry's id, when there is one. */
    readonly entryId?: number,
  ) {
    super(message);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isItem(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function isQty(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0;
}

function inputProblem(input: unknown): string | null {
  if (!isRecord(input)) return 'input is not an object';
  switch (input.kind) {
    case 'add':
    case 'remove':
      if (!isItem(input.item)) return `${input.kind} needs a non-empty string item`;
      if (!isQty(input.qty)) return `${input.kind} needs a positive integer qty`;
      return null;
    case 'order': {
      if (!Array.isArray(input.lines) || input.lines.length === 0)
        return 'an order needs at least one line';
      const seen = new Set<string>();
      for (const line of input.lines as unknown[]) {
        if (!isRecord(line) || !isItem(line.item) || !isQty(line.qty))
          return 'every order line needs a non-empty item and a positive integer qty';
        if (seen.has(line.item)) return `item '${line.item}' appears twice in one order`;
        seen.add(line.item);
      }
      return null;
    }
    case 'view':
      return null;
    case 'get':
      return isItem(input.item) ? null : 'get needs a non-empty string item';
    default:
      return `unknown operation kind ${JSON.stringify(input.kind)}`;
  }
}

/**
 * Checks one entry's shape (types, a known operation, finite times, `ret >= call`) and throws a
 * HistoryError saying what is wrong; `where` prefixes the message (e.g. a file and line).
 */
export function assertHistoryEntry(value: unknown, where = ''): asserts value is HistoryEntry {
  const at = where ? `${where}: ` : '';
  if (!isRecord(value)) throw new HistoryError(`${at}a history entry must be an object`);
  const id = value.id;
  if (typeof id !== 'number' || !Number.isFinite(id))
    throw new HistoryError(`${at}a history entry needs a finite numeric id`);
  const fail = (why: string): never => {
    throw new HistoryError(`${at}entry #${id}: ${why}`, id);
  };
  if (typeof value.client !== 'string') fail('client must be a string');
  const problem = inputProblem(value.input);
  if (problem) fail(problem);
  const { call, ret } = value;
  if (typeof call !== 'number' || !Number.isFinite(call)) fail('call must be a finite number');
  if (ret !== null && (typeof ret !== 'number' || !Number.isFinite(ret)))
    fail('ret must be a finite number or null');
  if (typeof ret === 'number' && ret < (call as number))
    fail(`malformed: it returns (ret=${ret}) before it is called (call=${call as number})`);
}

/** Checks every entry (see assertHistoryEntry) and that ids are unique. */
export function validateHistory(entries: readonly unknown[]): asserts entries is HistoryEntry[] {
  const ids = new Set<number>();
  for (const e of entries) {
    assertHistoryEntry(e);
    if (ids.has(e.id)) throw new HistoryError(`entry id ${e.id} appears more than once`, e.id);
    ids.add(e.id);
  }
}

/** The history as JSON Lines (one entry per line, newline-terminated). */
export function formatHistory(entries: readonly HistoryEntry[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

/** Parses JSON Lines (blank lines ignored), checking each entry; `source` names it in errors. */
export function parseHistory(text: string, source = 'history'): HistoryEntry[] {
  const entries: HistoryEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line.length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new HistoryError(`${source}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    assertHistoryEntry(value, `${source}:${i + 1}`);
    entries.push(value);
  }
  return entries;
}

/** Writes the history to `path` as JSON Lines (replacing the file). */
export function writeHistory(path: string, entries: readonly HistoryEntry[]): void {
  writeFileSync(path, formatHistory(entries));
}

/** Appends entries to `path` as JSON Lines, so a run can save each operation as it completes. */
export function appendHistory(path: string, entries: readonly HistoryEntry[]): void {
  appendFileSync(path, formatHistory(entries));
}

/** Reads a JSON Lines history written by writeHistory/appendHistory (throws HistoryError). */
export function readHistory(path: string): HistoryEntry[] {
  return parseHistory(readFileSync(path, 'utf8'), path);
}
