// The learner role as a pure step function: (state, event) -> effects. It owns the decisions:
// each is recorded once (a second, different one breaks an invariant), then made durable.
import { isDeepStrictEqual } from 'node:util';
import { compactBelow, InvariantError } from './acceptor.ts';
import type { Effect, PaxosMsg } from './messages.ts';

export interface LearnerState {
  readonly participants: readonly string[];
  decided: Map<number, unknown>;
  floor: number;
}

export type LearnerEvent =
  | { type: 'receive'; from: string; msg: Extract<PaxosMsg, { type: 'decided' }> }
  | { type: 'compact'; below: number };

export function createLearner(
  participants: readonly string[],
  durable?: { decided: ReadonlyMap<number, unknown>; floor?: number },
): LearnerState {
  return { participants, decided: new Map(durable?.decided), floor: durable?.floor ?? 0 };
}

/** Applies one event to the learner; returns the effects to carry out, in order. */
export function learnerStep(l: LearnerState, event: LearnerEvent): Effect[] {
  if (event.type === 'compact') {
    compactBelow(l, event.below, [l.decided]);
    return [];
  }
  if (!l.participants.includes(event.from)) return []; // not a member: ignored
  const { inst, value } = event.msg;
  if (inst < l.floor) return []; // compacted: a snapshot covers it
  if (l.decided.has(inst)) {
    if (!isDeepStrictEqual(l.decided.get(inst), value)) {
      throw new InvariantError(`instance ${inst} decided twice with different values`);
    }
    return [];
  }
  l.decided.set(inst, value);
  // The runner writes it durably, then tells the upper layer and this participant's other roles.
  return [{ type: 'learn', inst, value }];
}
