// One Paxos participant as the composition of its three role cores (acceptor.ts, proposer.ts,
// learner.ts), wired as the actors wire them (roles.ts). Pure: `step(state, event)` -> effects.
// The property tests and the simulator drive this; the actors (participant.ts) run each role's
// step function in its own process, with the same routing.
import { type AcceptorState, acceptorStep, createAcceptor, InvariantError } from './acceptor.ts';
import { createLearner, type LearnerState, learnerStep } from './learner.ts';
import type { AcceptorRecord, Effect, LeadPromise } from './messages.ts';
import { NO_MUTATIONS, type PaxosMutation } from './mutations.ts';
import {
  BALLOT_TIMEOUT_MS,
  createProposer,
  type ProposerBallot,
  type ProposerEvent,
  type ProposerOptions,
  type ProposerState,
  proposerStep,
  RETRY_MS_FIRST,
  RETRY_MS_MAX,
} from './proposer.ts';
import { localEvents, type RoleEvent, routeMessage } from './roles.ts';

export type { AcceptorState, LearnerState, ProposerBallot, ProposerOptions, ProposerState };
export { BALLOT_TIMEOUT_MS, InvariantError, RETRY_MS_FIRST, RETRY_MS_MAX };

export interface ParticipantState {
  readonly me: string;
  readonly participants: readonly string[];
  readonly quorum: number;
  proposer: ProposerState;
  acceptor: AcceptorState;
  learner: LearnerState;
}

/** What survives a crash: acceptor records, decisions, the highest reserved round. */
export interface DurableState {
  records: Map<number, AcceptorRecord>;
  decided: Map<number, unknown>;
  reservedRound: number;
  /** Instances below it were compacted away (default 0). */
  floor?: number;
  /** The acceptor's term promise (Multi-Paxos phase 1 for every instance from `from` on). */
  lead?: LeadPromise | null;
}

export type Event =
  | Extract<ProposerEvent, { type: 'propose' | 'start_ballot' | 'retry' | 'flush' }>
  | { type: 'receive'; from: string; msg: Parameters<typeof routeMessage>[1] }
  /** Instances below `below` are covered by a snapshot: every role forgets them. */
  | { type: 'compact'; below: number };

export function createParticipant(
  me: string,
  participants: readonly string[],
  durable?: DurableState,
  mutations: ReadonlySet<PaxosMutation> = NO_MUTATIONS,
  options: ProposerOptions = {},
): ParticipantState {
  if (!participants.includes(me))
    throw new Error(`${me} is not one of the participants ${participants.join(', ')}`);
  if (new Set(participants).size !== participants.length)
    throw new Error('participant names must be distinct');
  const members = [...participants];
  const d = durable ?? { records: new Map(), decided: new Map(), reservedRound: 0 };
  return {
    me,
    participants: members,
    quorum: Math.floor(members.length / 2) + 1,
    proposer: createProposer(me, members, d, mutations, options),
    acceptor: createAcceptor(me, members, d, mutations),
    learner: createLearner(members, d),
  };
}

/**
 * Applies one event; returns the effects to carry out, in order. An effect meant for another
 * role of this participant (roles.ts `localEvents`) is delivered to it at once, and the effects
 * of that role follow in the list.
 */
export function step(state: ParticipantState, event: Event): Effect[] {
  switch (event.type) {
    case 'receive':
      return deliver(state, routeMessage(event.from, event.msg));
    case 'compact':
      return [
        ...deliver(state, { role: 'acceptor', event }),
        ...deliver(state, { role: 'proposer', event }),
        ...deliver(state, { role: 'learner', event }),
      ];
    default:
      return deliver(state, { role: 'proposer', event });
  }
}

function deliver(state: ParticipantState, to: RoleEvent): Effect[] {
  const effects =
    to.role === 'acceptor'
      ? acceptorStep(state.acceptor, to.event)
      : to.role === 'proposer'
        ? proposerStep(state.proposer, to.event)
        : learnerStep(state.learner, to.event);
  const out: Effect[] = [];
  for (const e of effects) {
    if (e.type !== 'round_seen' && e.type !== 'chosen') out.push(e); // purely local
    for (const local of localEvents(e)) out.push(...deliver(state, local));
  }
  return out;
}

/** The durable part of a participant's state (what storage must hold). */
export function durableOf(state: ParticipantState): DurableState {
  return {
    records: new Map(state.acceptor.records),
    decided: new Map(state.learner.decided),
    reservedRound: state.proposer.reservedRound,
    floor: state.learner.floor,
    lead: state.acceptor.lead,
  };
}

/**
 * What of a participant's state can still change what it does: a copy (sharing what it leaves
 * as it is) with the rest set to one fixed value, for the model checker
 * (apps/model/paxos-model.ts), which keeps one entry per view instead of one per state. Two
 * states with the same view step alike: the same effects (the purely local `round_seen` aside),
 * and the same view after. test/model/model-view.test.ts checks this on every (state, event) the
 * model reaches without views, mutations included. Forgotten:
 * - a ballot's promises and highest once it left phase 1, and its acceptances once it left
 *   phase 2 (each is read in its own phase only);
 * - how far the acceptor has told its proposer of rounds seen, up to the proposer's own highest
 *   round: telling it a round at or below that changes nothing (the proposer keeps the maximum),
 *   so the view says the proposer was told everything up to its own maximum.
 */
export function modelView(state: ParticipantState): ParticipantState {
  const ballots = new Map<number, ProposerBallot>();
  for (const [inst, b] of state.proposer.ballots) {
    const prepare = b.phase === 'prepare';
    ballots.set(inst, {
      ...b,
      promises: prepare ? new Set(b.promises) : new Set(),
      highest: prepare ? b.highest : null,
      accepts: b.phase === 'accept' ? new Set(b.accepts) : new Set(),
    });
  }
  return {
    ...state,
    proposer: { ...state.proposer, ballots },
    acceptor: {
      ...state.acceptor,
      roundTold: Math.max(state.acceptor.roundTold, state.proposer.maxRound),
    },
  };
}
