// A template for a Paxos participant written as a pure step function, the interface the model
// checker drives (`npm run check:model -- --impl examples/my-paxos/core.ts`), as apps/paxos/core.ts.
// State is plain data (objects, arrays, Maps, Sets): no classes, functions, clock or randomness.
import type { Ballot } from '../../apps/paxos/ballot.ts';
import type { DurableState, Event } from '../../apps/paxos/core.ts';
import type { Effect } from '../../apps/paxos/messages.ts';

export interface State {
  me: string;
  participants: string[];
  /** The highest round seen; a new ballot goes above it. */
  maxRound: number;
  /** The value this participant was asked to propose (instance 0). */
  value: unknown;
  /** The acceptor's promise and accepted value, kept on disk through `persist` effects. */
  promised: Ballot | null;
  accepted: { ballot: Ballot; value: unknown } | null;
  decided: boolean;
}

/** A participant, fresh or restarted from what its disk holds (`durable`). */
export function createParticipant(
  me: string,
  participants: readonly string[],
  durable?: DurableState,
): State {
  const record = durable?.records.get(0);
  return {
    me,
    participants: [...participants],
    // TODO: a restarted proposer must never reuse a ballot: go above durable.reservedRound.
    maxRound: Math.max(durable?.reservedRound ?? 0, record?.promised?.round ?? 0),
    value: undefined,
    promised: record?.promised ?? null,
    accepted: record?.accepted ?? null,
    decided: durable?.decided.has(0) ?? false,
  };
}

/**
 * One event in, the effects out (in order: a `persist` before the reply that depends on it).
 * The model checker carries them: `send`/`broadcast` go on the network, `persist`, `reserve` and
 * `learn` are written to the participant's disk (what `createParticipant` gets after a crash).
 */
export function step(s: State, event: Event): Effect[] {
  switch (event.type) {
    case 'propose':
      s.value = event.value;
      return [];
    case 'start_ballot':
      // TODO: ballot { round: s.maxRound + 1, leader: s.me }; `reserve` its round, then
      // broadcast { type: 'prepare', inst: 0, ballot }.
      return [];
    case 'receive':
      switch (event.msg.type) {
        // TODO acceptor: 'prepare' -> promise unless a higher ballot was promised (persist first);
        // 'accept' -> accept unless a higher ballot was promised (persist first), reply 'accepted'.
        // TODO proposer: 'promise' -> on a majority, broadcast 'accept' with the value of the
        // highest accepted ballot reported, else its own; 'accepted' -> on a majority, broadcast
        // 'decided'. TODO learner: 'decided' -> a `learn` effect, once.
        default:
          return [];
      }
    default:
      return [];
  }
}
