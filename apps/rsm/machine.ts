// What a replicated service supplies: a deterministic state machine over operations carrying a
// request id. The replica (replica.ts) orders operations with multi-instance Paxos and applies
// them with this; the client side (client.ts) validates them before anything is proposed.
import { ActorError } from '../../actors/index.ts';

/** Every operation carries the request id its client chose; a retry reuses it. */
export interface Op {
  reqId: string;
}

export interface Machine<S, O extends Op, R> {
  /** Service name; replicas register globally as `${service}:${replica}`. */
  readonly service: string;
  empty(): S;
  /** Throws ActorError invalid_argument for a malformed operation. */
  validate(op: unknown): asserts op is O;
  /** Applies an operation at the next log position (deterministic: same log, same results). */
  apply(state: S, op: O): R;
  /** The remembered result of an applied write (a retry that arrives after it was applied). */
  resultOf(state: S, reqId: string): R | undefined;
  /** A serialisable copy of the state; restore(snapshot(s)) behaves exactly like s. */
  snapshot(state: S): unknown;
  restore(snapshot: unknown): S;
  /**
   * The keys an operation reads or writes, for EPaxos (`protocol: 'epaxos'`): operations whose
   * keys meet are ordered with each other, others are not; `'*'` meets every key (a full read).
   */
  keysOf?(op: O): string[];
  /** A small readable view of the state, for observers (the live cluster view). */
  describe?(state: S): unknown;
  /** Test only: forgets every remembered result (the replica's forget-snapshot-results mutation). */
  forgetResults?(state: S): void;
}

/** One log entry: the operations one Paxos instance decided, in order (none: a no-op filler). */
export interface Entry<O extends Op = Op> {
  ops: O[];
  /** The configuration it was proposed in (absent: epoch 0); see core.ts's ReconfigOp. */
  epoch?: number;
}

/** Checks what every operation needs (an object with a reqId); returns its fields to check on. */
export function opFields(op: unknown): Record<string, unknown> {
  if (typeof op !== 'object' || op === null)
    throw new ActorError('invalid_argument', 'an operation must be an object');
  const o = op as Record<string, unknown>;
  if (typeof o.reqId !== 'string' || o.reqId.length === 0)
    throw new ActorError('invalid_argument', 'an operation needs a reqId');
  return o;
}

/** Remembers a write's result under its reqId, forgetting the oldest beyond `limit`. */
export function remember<R>(
  results: Map<string, R>,
  reqId: string,
  result: R,
  limit: number,
): void {
  results.set(reqId, result);
  if (results.size > limit) {
    const oldest = results.keys().next().value;
    if (oldest !== undefined) results.delete(oldest);
  }
}

/** Creates a request id: unique per process run, short enough to be cheap on the wire. */
export function requestId(): string {
  return `${PREFIX}-${(counter++).toString(36)}`;
}

const PREFIX = Math.floor(Math.random() * 2 ** 48).toString(36);
let counter = 0;
