// What an EPaxos partition executes its commands with: a deterministic state machine over ops,
// and the default one (a key-value map over the command's keys) for the REPL and demos.
import { ActorError, showValue } from '../../actors/index.ts';
import type { Command } from './messages.ts';

export interface EpaxosMachine<S = unknown, R = unknown> {
  /** The state before any command; a restarted replica starts from it and executes again. */
  empty(): S;
  /** Throws ActorError invalid_argument for a malformed op (checked before it is proposed). */
  validate?(op: unknown): void;
  /**
   * Applies one command (deterministic: interfering commands, those sharing a key, come in the
   * same order at every replica; the others in any order). Mutates `state`; returns the result.
   */
  apply(state: S, op: unknown, cmd: Command): R;
  /** A small serialisable view of the state, for status() and observers. */
  describe?(state: S): unknown;
  /**
   * A serialisable copy of the state, and the state back from it. With both, the replica
   * checkpoints (InitOptions.checkpointEvery) and a restart restores the last checkpoint instead
   * of executing every command again; without them, it executes every command again.
   */
  snapshot?(state: S): unknown;
  restore?(snapshot: unknown): S;
}

/** The default machine's ops: read, write or add to every key of the command. */
export type KvOp = 'get' | { put: unknown } | { add: number };

function isKvOp(op: unknown): op is KvOp {
  if (op === 'get') return true;
  if (typeof op !== 'object' || op === null || Array.isArray(op)) return false;
  const keys = Object.keys(op);
  if (keys.length !== 1) return false;
  if (keys[0] === 'put') return true;
  return keys[0] === 'add' && Number.isFinite((op as { add: unknown }).add);
}

/**
 * A key-value map. `'get'` reads, `{ put: v }` writes v, `{ add: n }` adds n (a missing or
 * non-numeric value counts as 0) to every key of the command; the result is
 * `{ [key]: value after the op }` for each of its keys.
 */
export const kvMachine: EpaxosMachine<Map<string, unknown>, Record<string, unknown>> = {
  empty: () => new Map(),
  validate(op) {
    if (!isKvOp(op))
      throw new ActorError(
        'invalid_argument',
        `an op of the default key-value machine is 'get', { put: value } or { add: number }, got ${showValue(op)}`,
      );
  },
  apply(state, op, cmd) {
    const kv = op as KvOp;
    const out: Record<string, unknown> = {};
    for (const key of cmd.keys) {
      if (kv !== 'get') {
        if ('put' in kv) state.set(key, kv.put);
        else {
          const old = state.get(key);
          state.set(key, (typeof old === 'number' ? old : 0) + kv.add);
        }
      }
      out[key] = state.get(key);
    }
    return out;
  },
  describe: (state) => Object.fromEntries(state),
  snapshot: (state) => [...state],
  restore: (snapshot) => new Map(snapshot as Array<[string, unknown]>),
};
