// The proposer role as a pure step function: (state, event) -> effects. It owns its rounds,
// proposals and ballots in progress; phase 1, phase 2, retransmission, giving up on a nack.

import { compactBelow } from './acceptor.ts';
import { type Ballot, compareBallots, sameBallot } from './ballot.ts';
import type { Accepted, AcceptorRecord, Effect, PaxosMsg } from './messages.ts';
import { NO_MUTATIONS, type PaxosMutation } from './mutations.ts';

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
  readonly me: string;
  readonly participants: readonly string[];
  readonly quorum: number;
  /** The highest round this participant has seen or used: its next ballot goes above it. */
  maxRound: number;
  /** The highest round it has durably reserved; a restart never reuses a ballot below it. */
  reservedRound: number;
  /** Values stored by propose(), per instance. */
  proposals: Map<number, unknown>;
  ballots: Map<number, ProposerBallot>;
  /** Decisions the learner told this proposer of: a start_ballot for one re-announces it. */
  decided: Map<number, unknown>;
  floor: number;
  readonly mutations: ReadonlySet<PaxosMutation>;
}

export type ProposerEvent =
  | { type: 'propose'; inst: number; value: unknown }
  /** `now` (ms) lets a live ballot of this proposer go on; without it a new ballot starts. */
  | { type: 'start_ballot'; inst: number; now?: number }
  /** A retransmission timer of a ballot fired. */
  | { type: 'retry'; inst: number; ballot: Ballot }
  | {
      type: 'receive';
      from: string;
      msg: Extract<PaxosMsg, { type: 'promise' | 'accepted' | 'nack' | 'compacted' }>;
    }
  /** From this participant's acceptor: it saw this round; the next ballot goes above it. */
  | { type: 'round_seen'; round: number }
  /** From this participant's learner, once the decision is on disk. */
  | { type: 'decided'; inst: number; value: unknown }
  | { type: 'compact'; below: number };

export function createProposer(
  me: string,
  participants: readonly string[],
  durable?: {
    records: ReadonlyMap<number, AcceptorRecord>;
    decided: ReadonlyMap<number, unknown>;
    reservedRound: number;
    floor?: number;
  },
  mutations: ReadonlySet<PaxosMutation> = NO_MUTATIONS,
): ProposerState {
  const reservedRound = mutations.has('no-reservation') ? 0 : (durable?.reservedRound ?? 0);
  let maxRound = reservedRound;
  for (const r of durable?.records.values() ?? [])
    if (r.promised) maxRound = Math.max(maxRound, r.promised.round);
  return {
    me,
    participants,
    quorum: Math.floor(participants.length / 2) + 1,
    maxRound,
    reservedRound,
    proposals: new Map(),
    ballots: new Map(),
    decided: new Map(durable?.decided),
    floor: durable?.floor ?? 0,
    mutations,
  };
}

/** Applies one event to the proposer; returns the effects to carry out, in order. */
export function proposerStep(p: ProposerState, event: ProposerEvent): Effect[] {
  switch (event.type) {
    case 'propose':
      if (event.inst < p.floor)
        return [{ type: 'abort', inst: event.inst, ballot: null, reason: 'compacted', by: null }];
      if (p.decided.has(event.inst))
        return [{ type: 'settled', inst: event.inst, value: p.decided.get(event.inst) }];
      p.proposals.set(event.inst, event.value);
      return [];
    case 'start_ballot':
      return start(p, event.inst, event.now);
    case 'retry':
      return retry(p, event.inst, event.ballot);
    case 'receive':
      if (!p.participants.includes(event.from)) return []; // not a member: ignored
      return receive(p, event.from, event.msg);
    case 'round_seen':
      p.maxRound = Math.max(p.maxRound, event.round);
      return [];
    case 'decided': {
      if (event.inst < p.floor) return [];
      p.decided.set(event.inst, event.value);
      // Its ballot and proposal for the instance are over and forgotten (memory stays bounded).
      const asked = p.proposals.has(event.inst) || p.ballots.has(event.inst);
      p.ballots.delete(event.inst);
      p.proposals.delete(event.inst);
      return asked ? [{ type: 'settled', inst: event.inst, value: event.value }] : [];
    }
    case 'compact':
      compactBelow(p, event.below, [p.decided, p.proposals, p.ballots]);
      return [];
  }
}

/**
 * Starts a ballot above every round seen (or re-announces a known decision). Given the time, it
 * keeps its own live ballot instead (see BALLOT_TIMEOUT_MS); a refused one, or one that timed
 * out, is replaced by a new, higher one.
 */
function start(p: ProposerState, inst: number, now?: number): Effect[] {
  if (inst < p.floor) return [{ type: 'abort', inst, ballot: null, reason: 'compacted', by: null }];
  if (p.decided.has(inst)) {
    // Known decision: announce it again instead of competing (helps participants that missed it).
    const value = p.decided.get(inst);
    return [
      { type: 'broadcast', msg: { type: 'decided', inst, value } },
      { type: 'settled', inst, value },
    ];
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
  const ballot: Ballot = { round: p.maxRound + 1, leader: p.me };
  p.maxRound = ballot.round;
  const effects: Effect[] = [];
  if (ballot.round > p.reservedRound && !p.mutations.has('no-reservation')) {
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
function retry(p: ProposerState, inst: number, ballot: Ballot): Effect[] {
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

/** Collects promises and acceptances for its ballots; gives up on a nack. */
function receive(
  p: ProposerState,
  from: string,
  msg: Extract<PaxosMsg, { type: 'promise' | 'accepted' | 'nack' | 'compacted' }>,
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
    case 'compacted':
      // Decided, and forgotten by that acceptor: no ballot here can finish. The caller catches up.
      if (b.phase !== 'prepare' && b.phase !== 'accept') return [];
      b.phase = 'aborted';
      return [{ type: 'abort', inst: msg.inst, ballot: b.ballot, reason: 'compacted', by: null }];
    case 'promise': {
      if (b.phase !== 'prepare') return [];
      b.promises.add(from);
      if (
        msg.accepted &&
        (b.highest === null || compareBallots(msg.accepted.ballot, b.highest.ballot) > 0)
      ) {
        b.highest = msg.accepted;
      }
      if (b.promises.size < p.quorum) return [];
      // The value of the highest ballot any promiser accepted, else our own proposal.
      const own = p.proposals.get(msg.inst);
      const value =
        b.highest !== null && !(p.mutations.has('ignore-accepted') && own !== undefined)
          ? b.highest.value
          : own;
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
      if (b.accepts.size < p.quorum) return [];
      b.phase = 'done';
      return [{ type: 'broadcast', msg: { type: 'decided', inst: msg.inst, value: b.value } }];
    }
  }
}
