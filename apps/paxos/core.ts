// The Paxos core: a deterministic state machine with proposer, acceptor and learner roles.
// No I/O, timers or randomness: `step(state, event)` updates the state and returns effects.
import { isDeepStrictEqual } from 'node:util';
import { type Ballot, compareBallots, sameBallot } from './ballot.ts';
import type { Accepted, AcceptorRecord, Effect, PaxosMsg } from './messages.ts';

/** A proposer's ballot in progress for one instance (volatile: lost on a crash). */
export interface ProposerBallot {
  ballot: Ballot;
  phase: 'prepare' | 'accept' | 'done' | 'aborted';
  promises: Set<string>;
  highest: Accepted | null;
  value: unknown;
  accepts: Set<string>;
  /** When it started (the caller's clock, ms), or undefined when the caller keeps no time. */
  startedAt: number | undefined;
  /** The wait before its next retransmission (doubles each time, up to RETRY_MS_MAX). */
  retryMs: number;
}

/**
 * A live ballot (not refused, not decided) younger than this is kept when start_ballot is asked
 * again: a proposer never pre-empts its own ballot in flight. Older, it counts as timed out.
 */
export const BALLOT_TIMEOUT_MS = 500;
/** A ballot without a quorum retransmits its current phase after this, then twice as long ... */
export const RETRY_MS_FIRST = 20;
/** ... up to this. */
export const RETRY_MS_MAX = 1000;

export interface ProposerState {
  /** The highest round this participant has seen or used: its next ballot goes above it. */
  maxRound: number;
  /** The highest round it has durably reserved; a restart never reuses a ballot below it. */
  reservedRound: number;
  /** Values stored by propose(), per instance. */
  proposals: Map<number, unknown>;
  ballots: Map<number, ProposerBallot>;
}

export interface AcceptorState {
  records: Map<number, AcceptorRecord>;
}

export interface LearnerState {
  decided: Map<number, unknown>;
}

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
}

export type Event =
  | { type: 'propose'; inst: number; value: unknown }
  /** `now` (ms) lets a live ballot of this proposer go on; without it a new ballot starts. */
  | { type: 'start_ballot'; inst: number; now?: number }
  /** A retransmission timer of a ballot fired. */
  | { type: 'retry'; inst: number; ballot: Ballot }
  | { type: 'receive'; from: string; msg: PaxosMsg };

/** A broken invariant: the participant must crash rather than go on in a wrong state. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(`Paxos invariant broken: ${message}`);
    this.name = 'InvariantError';
  }
}

export function createParticipant(
  me: string,
  participants: readonly string[],
  durable?: DurableState,
): ParticipantState {
  if (!participants.includes(me))
    throw new Error(`${me} is not one of the participants ${participants.join(', ')}`);
  if (new Set(participants).size !== participants.length)
    throw new Error('participant names must be distinct');
  const records = durable ? new Map(durable.records) : new Map<number, AcceptorRecord>();
  let maxRound = durable?.reservedRound ?? 0;
  for (const r of records.values()) {
    if (r.promised) maxRound = Math.max(maxRound, r.promised.round);
  }
  return {
    me,
    participants: [...participants],
    quorum: Math.floor(participants.length / 2) + 1,
    proposer: {
      maxRound,
      reservedRound: durable?.reservedRound ?? 0,
      proposals: new Map(),
      ballots: new Map(),
    },
    acceptor: { records },
    learner: { decided: durable ? new Map(durable.decided) : new Map() },
  };
}

/** Applies one event; returns the effects to carry out, in order. */
export function step(state: ParticipantState, event: Event): Effect[] {
  switch (event.type) {
    case 'propose':
      state.proposer.proposals.set(event.inst, event.value);
      return [];
    case 'start_ballot':
      return proposerStart(state.proposer, state.me, state.learner.decided, event.inst, event.now);
    case 'retry':
      return proposerRetry(state.proposer, event.inst, event.ballot);
    case 'receive':
      return receive(state, event.from, event.msg);
    default: {
      const never: never = event;
      throw new Error(`unknown event ${String(never)}`);
    }
  }
}

/**
 * The proposer role starts a ballot above every round it has seen (or re-announces a decision).
 * Given the time, it keeps its own live ballot instead (see BALLOT_TIMEOUT_MS); a refused one, or
 * one that timed out, is replaced by a new, higher one.
 */
export function proposerStart(
  p: ProposerState,
  me: string,
  decided: ReadonlyMap<number, unknown>,
  inst: number,
  now?: number,
): Effect[] {
  if (decided.has(inst)) {
    // Known decision: announce it again instead of competing (helps participants that missed it).
    return [{ type: 'broadcast', msg: { type: 'decided', inst, value: decided.get(inst) } }];
  }
  const current = p.ballots.get(inst);
  if (
    current !== undefined &&
    now !== undefined &&
    current.startedAt !== undefined &&
    (current.phase === 'prepare' || current.phase === 'accept') &&
    now - current.startedAt < BALLOT_TIMEOUT_MS
  ) {
    return []; // still live: its retransmissions carry it on
  }
  const ballot: Ballot = { round: p.maxRound + 1, leader: me };
  p.maxRound = ballot.round;
  const effects: Effect[] = [];
  if (ballot.round > p.reservedRound) {
    // Reserve rounds durably before using them, so a restarted proposer never reuses a ballot.
    p.reservedRound = ballot.round;
    effects.push({ type: 'reserve', round: ballot.round });
  }
  p.ballots.set(inst, {
    ballot,
    phase: 'prepare',
    promises: new Set(),
    highest: null,
    value: undefined,
    accepts: new Set(),
    startedAt: now,
    retryMs: RETRY_MS_FIRST,
  });
  effects.push({ type: 'broadcast', msg: { type: 'prepare', inst, ballot } });
  effects.push({ type: 'timer', inst, ballot, afterMs: RETRY_MS_FIRST });
  return effects;
}

/**
 * A ballot's retransmission timer: while it has no quorum and was not refused, it sends its
 * current phase again (acceptors answer a repeated prepare or accept of one ballot alike), so a
 * ballot whose messages were lost, or sent before the others were up, still completes.
 */
export function proposerRetry(p: ProposerState, inst: number, ballot: Ballot): Effect[] {
  const b = p.ballots.get(inst);
  if (!b || !sameBallot(b.ballot, ballot)) return [];
  const msg: PaxosMsg | undefined =
    b.phase === 'prepare'
      ? { type: 'prepare', inst, ballot }
      : b.phase === 'accept'
        ? { type: 'accept', inst, ballot, value: b.value }
        : undefined;
  if (!msg) return [];
  b.retryMs = Math.min(b.retryMs * 2, RETRY_MS_MAX);
  return [
    { type: 'broadcast', msg },
    { type: 'timer', inst, ballot, afterMs: b.retryMs },
  ];
}

function receive(state: ParticipantState, from: string, msg: PaxosMsg): Effect[] {
  if (!state.participants.includes(from)) return []; // not a member: ignored
  switch (msg.type) {
    case 'prepare':
    case 'accept':
      // The proposer of this participant goes above any round its acceptor has seen.
      state.proposer.maxRound = Math.max(state.proposer.maxRound, msg.ballot.round);
      return acceptorStep(state.acceptor, state.learner.decided, from, msg);
    case 'promise':
    case 'accepted':
    case 'nack':
      return proposerStep(state.proposer, state.quorum, from, msg);
    case 'decided': {
      const effects = learnerStep(state.learner, msg.inst, msg.value);
      if (effects.length > 0) proposerDecided(state.proposer, msg.inst);
      return effects;
    }
    default: {
      const never: never = msg;
      throw new Error(`unknown message ${String(never)}`);
    }
  }
}

// ---- acceptor ------------------------------------------------------------------------------

/** The acceptor role: answers prepare and accept; a known decision is answered with it. */
export function acceptorStep(
  acceptor: AcceptorState,
  decided: ReadonlyMap<number, unknown>,
  from: string,
  msg: Extract<PaxosMsg, { type: 'prepare' | 'accept' }>,
): Effect[] {
  const { inst, ballot } = msg;
  if (decided.has(inst)) {
    return [{ type: 'send', to: from, msg: { type: 'decided', inst, value: decided.get(inst) } }];
  }
  const current = acceptor.records.get(inst) ?? { promised: null, accepted: null };
  if (current.promised !== null && compareBallots(ballot, current.promised) < 0) {
    return [
      { type: 'send', to: from, msg: { type: 'nack', inst, ballot, promised: current.promised } },
    ];
  }
  let next: AcceptorRecord;
  let reply: PaxosMsg;
  if (msg.type === 'prepare') {
    next = { promised: ballot, accepted: current.accepted };
    reply = { type: 'promise', inst, ballot, accepted: current.accepted };
  } else {
    if (
      current.accepted &&
      sameBallot(current.accepted.ballot, ballot) &&
      !isDeepStrictEqual(current.accepted.value, msg.value)
    ) {
      throw new InvariantError(
        `two values proposed under ballot ${ballot.round}.${ballot.leader} for instance ${inst}`,
      );
    }
    next = { promised: ballot, accepted: { ballot, value: msg.value } };
    reply = { type: 'accepted', inst, ballot };
  }
  if (current.promised !== null && compareBallots(next.promised!, current.promised) < 0) {
    throw new InvariantError('an acceptor lowered its promise');
  }
  acceptor.records.set(inst, next);
  // Durable before the reply that depends on it.
  return [
    { type: 'persist', inst, record: next },
    { type: 'send', to: from, msg: reply },
  ];
}

// ---- proposer ------------------------------------------------------------------------------

/** The proposer role: collects promises and acceptances for its ballots; gives up on a nack. */
export function proposerStep(
  p: ProposerState,
  quorum: number,
  from: string,
  msg: Extract<PaxosMsg, { type: 'promise' | 'accepted' | 'nack' }>,
): Effect[] {
  if (msg.type === 'nack') p.maxRound = Math.max(p.maxRound, msg.promised.round);
  const b = p.ballots.get(msg.inst);
  if (!b || !sameBallot(b.ballot, msg.ballot)) return []; // a reply to an older ballot
  switch (msg.type) {
    case 'nack':
      if (b.phase !== 'prepare' && b.phase !== 'accept') return [];
      b.phase = 'aborted';
      return [
        { type: 'abort', inst: msg.inst, ballot: b.ballot, reason: 'preempted', by: msg.promised },
      ];
    case 'promise': {
      if (b.phase !== 'prepare') return [];
      b.promises.add(from);
      if (
        msg.accepted &&
        (b.highest === null || compareBallots(msg.accepted.ballot, b.highest.ballot) > 0)
      ) {
        b.highest = msg.accepted;
      }
      if (b.promises.size < quorum) return [];
      // The value of the highest ballot any promiser accepted, else our own proposal.
      const value = b.highest !== null ? b.highest.value : p.proposals.get(msg.inst);
      if (value === undefined) {
        b.phase = 'aborted';
        return [{ type: 'abort', inst: msg.inst, ballot: b.ballot, reason: 'no_value', by: null }];
      }
      b.phase = 'accept';
      b.value = value;
      return [
        { type: 'broadcast', msg: { type: 'accept', inst: msg.inst, ballot: b.ballot, value } },
      ];
    }
    case 'accepted': {
      if (b.phase !== 'accept') return [];
      b.accepts.add(from);
      if (b.accepts.size < quorum) return [];
      b.phase = 'done';
      return [{ type: 'broadcast', msg: { type: 'decided', inst: msg.inst, value: b.value } }];
    }
  }
}

// ---- learner -------------------------------------------------------------------------------

/** The learner role: records a decision once; a second, different one breaks an invariant. */
export function learnerStep(learner: LearnerState, inst: number, value: unknown): Effect[] {
  const decided = learner.decided;
  if (decided.has(inst)) {
    if (!isDeepStrictEqual(decided.get(inst), value)) {
      throw new InvariantError(`instance ${inst} decided twice with different values`);
    }
    return [];
  }
  decided.set(inst, value);
  return [{ type: 'learn', inst, value }];
}

/**
 * Tells the proposer role an instance is decided: its ballot and proposal for it are over and
 * forgotten (a decided instance is answered from the decision; memory stays bounded).
 */
export function proposerDecided(p: ProposerState, inst: number): void {
  p.ballots.delete(inst);
  p.proposals.delete(inst);
}

/** The durable part of a participant's state (what storage must hold). */
export function durableOf(state: ParticipantState): DurableState {
  return {
    records: new Map(state.acceptor.records),
    decided: new Map(state.learner.decided),
    reservedRound: state.proposer.reservedRound,
  };
}
