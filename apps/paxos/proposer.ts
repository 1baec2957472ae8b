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
/** Decisions held for piggybacking at most; more are announced at once in one `chosen`. */
export const ANNOUNCE_MAX = 64;
/** A ballot without a quorum retransmits its current phase after this, then twice as long ... */
export const RETRY_MS_FIRST = 20;
/** ... up to this. */
export const RETRY_MS_MAX = 1000;

/**
 * A term: one phase 1 for every instance from `from` on (Multi-Paxos). Once a quorum promised,
 * the proposer is the stable leader of those instances: each of its ballots there goes straight
 * to phase 2 under the term's ballot, until a nack says another leader went higher.
 */
export interface Term {
  ballot: Ballot;
  from: number;
  phase: 'prepare' | 'won' | 'lost';
  promises: Set<string>;
  /** The highest-ballot value the promisers accepted, per instance from `from` on. */
  collected: Map<number, Accepted>;
  startedAt: number | undefined;
}

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
  /** The current (or last) term of this proposer, if it started one. */
  term: Term | undefined;
  /**
   * Instances the current term's ballot got a quorum for, not told to the participants yet: the
   * next accept carries them (piggybacked), or a `chosen` message on `flush`.
   */
  unannounced: { ballot: Ballot; insts: number[] } | undefined;
  /** Decisions the learner told this proposer of: a start_ballot for one re-announces it. */
  decided: Map<number, unknown>;
  floor: number;
  /**
   * Multi-Paxos: phase 1 once per term for every instance from the first one on (a replicated
   * log's leader). Off (the coursework's Paxos, independent instances): phase 1 per instance.
   */
  readonly terms: boolean;
  readonly mutations: ReadonlySet<PaxosMutation>;
}

/** How a participant runs its ballots. */
export interface ProposerOptions {
  /** Multi-Paxos terms (see ProposerState.terms); default false. */
  terms?: boolean;
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
  /**
   * Nothing more to step for now (the shell's mailbox is empty): decisions no accept carried
   * are announced with a `chosen` message.
   */
  | { type: 'flush' }
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
  options: ProposerOptions = {},
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
    term: undefined,
    unannounced: undefined,
    decided: new Map(durable?.decided),
    floor: durable?.floor ?? 0,
    terms: options.terms ?? false,
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
      p.term?.collected.delete(event.inst);
      return asked ? [{ type: 'settled', inst: event.inst, value: event.value }] : [];
    }
    case 'flush':
      return announce(p);
    case 'compact':
      compactBelow(p, event.below, [p.decided, p.proposals, p.ballots]);
      if (p.term)
        for (const inst of p.term.collected.keys())
          if (inst < p.floor) p.term.collected.delete(inst);
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
  if (!p.terms) return startInstance(p, inst, now);
  const term = p.term;
  if (term !== undefined && term.phase !== 'lost' && inst >= term.from) {
    if (term.phase === 'won') return phase2(p, inst, now); // the stable leader: no phase 1
    const termLive =
      now !== undefined && term.startedAt !== undefined && now - term.startedAt < BALLOT_TIMEOUT_MS;
    if (termLive) {
      // Phase 1 of the term is under way: this instance waits for it.
      p.ballots.set(inst, newBallot(term.ballot, now));
      return [{ type: 'timer', inst, ballot: term.ballot, afterMs: RETRY_MS_FIRST }];
    }
  }
  return startTerm(p, inst, now);
}

/** A new ballot for this instance alone (phase 1 for `inst` only), above every round seen. */
function startInstance(p: ProposerState, inst: number, now: number | undefined): Effect[] {
  const ballot = nextBallot(p);
  const effects = reserve(p, ballot);
  p.ballots.set(inst, newBallot(ballot, now));
  effects.push({ type: 'broadcast', msg: { type: 'prepare', inst, ballot } });
  effects.push({ type: 'timer', inst, ballot, afterMs: RETRY_MS_FIRST });
  return effects;
}

function nextBallot(p: ProposerState): Ballot {
  const ballot: Ballot = { round: p.maxRound + 1, leader: p.me };
  p.maxRound = ballot.round;
  return ballot;
}

/** Reserves rounds durably before using them, so a restarted proposer never reuses a ballot. */
function reserve(p: ProposerState, ballot: Ballot): Effect[] {
  if (ballot.round <= p.reservedRound || p.mutations.has('no-reservation')) return [];
  p.reservedRound = ballot.round;
  return [{ type: 'reserve', round: ballot.round }];
}

function newBallot(ballot: Ballot, now: number | undefined): ProposerBallot {
  return {
    ballot,
    phase: 'prepare',
    promises: new Set(),
    highest: null,
    value: undefined,
    accepts: new Set(),
    startedAt: now,
    retryMs: RETRY_MS_FIRST,
  };
}

/**
 * A new term above every round seen, from `inst` (or from a lower instance still waiting for the
 * term it replaces): one prepare for all of them and every instance after.
 */
function startTerm(p: ProposerState, inst: number, now: number | undefined): Effect[] {
  const ballot = nextBallot(p);
  const effects = reserve(p, ballot);
  // Instances still waiting for the old term's phase 1 move to the new term.
  const old = p.term;
  let from = inst;
  const waiting: number[] = [];
  if (old !== undefined && old.phase === 'prepare') {
    for (const [i, b] of p.ballots) {
      if (i !== inst && b.phase === 'prepare' && sameBallot(b.ballot, old.ballot)) {
        waiting.push(i);
        from = Math.min(from, i);
      }
    }
  }
  effects.push(...announce(p)); // the old term's decisions, before its ballot is left
  p.term = {
    ballot,
    from,
    phase: 'prepare',
    promises: new Set(),
    collected: new Map(),
    startedAt: now,
  };
  p.ballots.set(inst, newBallot(ballot, now));
  for (const i of waiting) p.ballots.get(i)!.ballot = ballot;
  effects.push({ type: 'broadcast', msg: { type: 'prepare', inst: from, ballot, term: true } });
  effects.push({ type: 'timer', inst, ballot, afterMs: RETRY_MS_FIRST });
  return effects;
}

/**
 * Phase 2 for `inst` under the won term: the value a promiser accepted there (the highest
 * ballot's), else this proposer's own. Under one ballot an instance only ever gets one value.
 */
function phase2(p: ProposerState, inst: number, now: number | undefined): Effect[] {
  const term = p.term!;
  const prior = p.ballots.get(inst);
  let value: unknown;
  if (prior !== undefined && sameBallot(prior.ballot, term.ballot) && prior.value !== undefined) {
    value = prior.value; // sent before under this ballot: the same value again
  } else {
    value = valueFor(p, inst, term.collected.get(inst));
  }
  const b = newBallot(term.ballot, now);
  p.ballots.set(inst, b);
  if (value === undefined) {
    b.phase = 'aborted';
    return [{ type: 'abort', inst, ballot: term.ballot, reason: 'no_value', by: null }];
  }
  b.phase = 'accept';
  b.value = value;
  const msg: PaxosMsg = { type: 'accept', inst, ballot: term.ballot, value };
  const told = p.unannounced;
  if (told !== undefined && sameBallot(told.ballot, term.ballot)) {
    msg.chosen = told.insts; // decisions piggybacked on the accept
    p.unannounced = undefined;
  }
  return [
    { type: 'broadcast', msg },
    { type: 'timer', inst, ballot: term.ballot, afterMs: RETRY_MS_FIRST },
  ];
}

/** The decisions no accept carried, in one `chosen` message (none: nothing to say). */
function announce(p: ProposerState): Effect[] {
  const told = p.unannounced;
  if (told === undefined) return [];
  p.unannounced = undefined;
  const [inst, ...more] = told.insts;
  const msg: PaxosMsg = { type: 'chosen', inst: inst!, ballot: told.ballot };
  if (more.length > 0) msg.more = more;
  return [{ type: 'broadcast', msg }];
}

/**
 * A ballot's retransmission timer: while it has no quorum and was not refused, it sends its
 * current phase again (acceptors answer a repeated prepare or accept of one ballot alike), so a
 * ballot whose messages were lost, or sent before the others were up, still completes.
 */
function retry(p: ProposerState, inst: number, ballot: Ballot): Effect[] {
  const b = p.ballots.get(inst);
  if (!b || !sameBallot(b.ballot, ballot)) return [];
  const term = p.term && sameBallot(p.term.ballot, ballot) ? p.term : undefined;
  const msg: PaxosMsg | undefined =
    b.phase === 'prepare'
      ? term
        ? { type: 'prepare', inst: term.from, ballot, term: true }
        : { type: 'prepare', inst, ballot }
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

/** Collects promises (for its term) and acceptances (per instance); gives up on a nack. */
function receive(
  p: ProposerState,
  from: string,
  msg: Extract<PaxosMsg, { type: 'promise' | 'accepted' | 'nack' | 'compacted' }>,
): Effect[] {
  if (msg.type === 'nack') p.maxRound = Math.max(p.maxRound, msg.promised.round);
  const term = p.term;
  const ofTerm = term !== undefined && sameBallot(term.ballot, msg.ballot);
  switch (msg.type) {
    case 'promise':
      if (!ofTerm) return instancePromise(p, from, msg);
      if (term.phase !== 'prepare' || msg.inst !== term.from) return [];
      return promise(p, term, from, msg);
    case 'nack':
      if (ofTerm && term.phase !== 'lost') {
        // Another leader went higher: every ballot of this term gives up.
        term.phase = 'lost';
        return abortTerm(p, term, () => 'preempted', msg.promised);
      }
      return abortOne(p, msg.inst, msg.ballot, 'preempted', msg.promised);
    case 'compacted':
      // Decided, and forgotten by that acceptor: no ballot here can finish. The caller catches up.
      if (ofTerm && term.phase === 'prepare' && msg.inst === term.from) {
        term.phase = 'lost';
        return abortTerm(p, term, (i) => (i < msg.floor ? 'compacted' : 'preempted'), null);
      }
      return abortOne(p, msg.inst, msg.ballot, 'compacted', null);
    case 'accepted': {
      const b = p.ballots.get(msg.inst);
      if (!b || !sameBallot(b.ballot, msg.ballot) || b.phase !== 'accept') return [];
      b.accepts.add(from);
      if (b.accepts.size < p.quorum) return [];
      b.phase = 'done';
      if (!ofTerm) {
        return [{ type: 'broadcast', msg: { type: 'decided', inst: msg.inst, value: b.value } }];
      }
      // A term's decision: this participant's learner hears it at once; the others with the
      // next accept (or a flush), without the value, which they accepted under this ballot.
      const effects: Effect[] = [{ type: 'chosen', from: p.me, inst: msg.inst, value: b.value }];
      const told = p.unannounced;
      if (told !== undefined && !sameBallot(told.ballot, msg.ballot)) effects.push(...announce(p));
      if (p.unannounced === undefined) p.unannounced = { ballot: msg.ballot, insts: [msg.inst] };
      else p.unannounced.insts.push(msg.inst);
      if (p.unannounced.insts.length >= ANNOUNCE_MAX) effects.push(...announce(p));
      return effects;
    }
  }
}

/**
 * What phase 2 proposes in `inst`: the value of the highest ballot a promiser reported accepted,
 * else this proposer's own (undefined: nothing to propose).
 */
function valueFor(p: ProposerState, inst: number, reported: Accepted | undefined): unknown {
  const own = p.proposals.get(inst);
  if (reported === undefined || (p.mutations.has('ignore-accepted') && own !== undefined))
    return own;
  return reported.value;
}

/** A promise for one instance's own ballot (without terms): with a quorum, its phase 2. */
function instancePromise(
  p: ProposerState,
  from: string,
  msg: Extract<PaxosMsg, { type: 'promise' }>,
): Effect[] {
  const b = p.ballots.get(msg.inst);
  if (!b || !sameBallot(b.ballot, msg.ballot) || b.phase !== 'prepare') return [];
  b.promises.add(from);
  if (
    msg.accepted &&
    (b.highest === null || compareBallots(msg.accepted.ballot, b.highest.ballot) > 0)
  )
    b.highest = msg.accepted;
  if (b.promises.size < p.quorum) return [];
  const value = valueFor(p, msg.inst, b.highest ?? undefined);
  if (value === undefined) {
    b.phase = 'aborted';
    return [{ type: 'abort', inst: msg.inst, ballot: b.ballot, reason: 'no_value', by: null }];
  }
  b.phase = 'accept';
  b.value = value;
  return [{ type: 'broadcast', msg: { type: 'accept', inst: msg.inst, ballot: b.ballot, value } }];
}

/** A promise for the term: merges what the promiser accepted; with a quorum, phase 2 begins. */
function promise(
  p: ProposerState,
  term: Term,
  from: string,
  msg: Extract<PaxosMsg, { type: 'promise' }>,
): Effect[] {
  term.promises.add(from);
  const merge = (inst: number, accepted: Accepted) => {
    const known = term.collected.get(inst);
    if (known === undefined || compareBallots(accepted.ballot, known.ballot) > 0)
      term.collected.set(inst, accepted);
  };
  if (msg.accepted) merge(msg.inst, msg.accepted);
  for (const [inst, accepted] of msg.later ?? []) if (inst >= p.floor) merge(inst, accepted);
  if (term.promises.size < p.quorum) return [];
  term.phase = 'won';
  // Every instance waiting for the term goes to phase 2 (the ones with nothing to propose abort).
  const effects: Effect[] = [];
  for (const [inst, b] of [...p.ballots]) {
    if (b.phase === 'prepare' && sameBallot(b.ballot, term.ballot))
      effects.push(...phase2(p, inst, b.startedAt));
  }
  return effects;
}

/** Every live ballot of the term gives up (an instance's reason from `reason`). */
function abortTerm(
  p: ProposerState,
  term: Term,
  reason: (inst: number) => 'preempted' | 'compacted',
  by: Ballot | null,
): Effect[] {
  const effects: Effect[] = [];
  for (const [inst, b] of p.ballots) {
    if (!sameBallot(b.ballot, term.ballot) || (b.phase !== 'prepare' && b.phase !== 'accept'))
      continue;
    b.phase = 'aborted';
    const why = reason(inst);
    effects.push({
      type: 'abort',
      inst,
      ballot: b.ballot,
      reason: why,
      by: why === 'preempted' ? by : null,
    });
  }
  return effects;
}

/** One instance's live ballot (of an older term) gives up. */
function abortOne(
  p: ProposerState,
  inst: number,
  ballot: Ballot,
  reason: 'preempted' | 'compacted',
  by: Ballot | null,
): Effect[] {
  const b = p.ballots.get(inst);
  if (!b || !sameBallot(b.ballot, ballot) || (b.phase !== 'prepare' && b.phase !== 'accept'))
    return [];
  b.phase = 'aborted';
  return [{ type: 'abort', inst, ballot: b.ballot, reason, by }];
}
