// The acceptor role as a pure step function: (state, event) -> effects. It owns its records
// (promise and accepted value per instance) and answers prepare and accept; durable first.
import { isDeepStrictEqual } from 'node:util';
import { type Ballot, compareBallots, sameBallot } from './ballot.ts';
import type { Accepted, AcceptorRecord, Effect, LeadPromise, PaxosMsg } from './messages.ts';
import { NO_MUTATIONS, type PaxosMutation } from './mutations.ts';

/** A broken invariant: the participant must crash rather than go on in a wrong state. */
export class InvariantError extends Error {
  constructor(message: string) {
    super(`Paxos invariant broken: ${message}`);
    this.name = 'InvariantError';
  }
}

export interface AcceptorState {
  readonly me: string;
  readonly participants: readonly string[];
  records: Map<number, AcceptorRecord>;
  /** The highest term promise (every instance from `lead.from` on), or null. */
  lead: LeadPromise | null;
  /** Decisions the learner told this acceptor of: a prepare or accept for one gets the decision. */
  decided: Map<number, unknown>;
  /** Instances below the floor were compacted: the acceptor takes no part in them. */
  floor: number;
  /** The highest round told to this participant's proposer (told again only when it grows). */
  roundTold: number;
  readonly mutations: ReadonlySet<PaxosMutation>;
}

export type AcceptorEvent =
  | {
      type: 'receive';
      from: string;
      msg: Extract<PaxosMsg, { type: 'prepare' | 'accept' | 'chosen' }>;
    }
  /** From this participant's learner, once the decision is on disk. */
  | { type: 'decided'; inst: number; value: unknown }
  | { type: 'compact'; below: number };

export function createAcceptor(
  me: string,
  participants: readonly string[],
  durable?: {
    records: ReadonlyMap<number, AcceptorRecord>;
    decided: ReadonlyMap<number, unknown>;
    floor?: number;
    lead?: LeadPromise | null;
  },
  mutations: ReadonlySet<PaxosMutation> = NO_MUTATIONS,
): AcceptorState {
  return {
    me,
    participants,
    records: new Map(durable?.records),
    lead: durable?.lead ?? null,
    decided: new Map(durable?.decided),
    floor: durable?.floor ?? 0,
    roundTold: 0,
    mutations,
  };
}

/** Applies one event to the acceptor; returns the effects to carry out, in order. */
export function acceptorStep(a: AcceptorState, event: AcceptorEvent): Effect[] {
  switch (event.type) {
    case 'receive':
      return receive(a, event.from, event.msg);
    case 'decided':
      if (event.inst >= a.floor) a.decided.set(event.inst, event.value);
      return [];
    case 'compact':
      compactBelow(a, event.below, [a.records, a.decided]);
      return [];
  }
}

function receive(
  a: AcceptorState,
  from: string,
  msg: Extract<PaxosMsg, { type: 'prepare' | 'accept' | 'chosen' }>,
): Effect[] {
  const { inst, ballot } = msg;
  if (!a.participants.includes(from)) return []; // not a member: ignored
  if (msg.type === 'chosen') {
    const told: Effect[] = [];
    for (const i of [inst, ...(msg.more ?? [])]) chosen(a, from, i, ballot, told);
    return told;
  }
  const effects: Effect[] = [];
  if (msg.type === 'accept' && msg.chosen)
    for (const i of msg.chosen) chosen(a, from, i, ballot, effects);
  if (inst < a.floor) {
    // Compacted: a snapshot covers it, so it was decided. Said, not ignored: a proposer that
    // missed the decision would otherwise retry for ever.
    effects.push({
      type: 'send',
      to: from,
      msg: { type: 'compacted', inst, ballot, floor: a.floor },
    });
    return effects;
  }
  // The proposer of this participant goes above any round its acceptor has seen.
  if (ballot.round > a.roundTold) {
    a.roundTold = ballot.round;
    effects.push({ type: 'round_seen', round: ballot.round });
  }
  if (a.decided.has(inst)) {
    effects.push({
      type: 'send',
      to: from,
      msg: { type: 'decided', inst, value: a.decided.get(inst) },
    });
    // Only a term's prepare is answered beyond the decision: it opens the instances after it.
    if (!(msg.type === 'prepare' && msg.term)) return effects;
  }
  if (msg.type === 'accept') return accept(a, from, msg, effects);
  return msg.term
    ? prepareTerm(a, from, inst, ballot, effects)
    : prepare(a, from, inst, ballot, effects);
}

/**
 * A piggybacked decision: `ballot` got a quorum in `inst`. The value is the one accepted under
 * that ballot (a ballot proposes one value per instance), so an acceptor that accepted it there
 * tells its learner; one that did not (it missed the accept) says so to the upper layer, which
 * learns the decision from its peers (with nothing decided after it, it would see no hole).
 */
function chosen(a: AcceptorState, from: string, inst: number, ballot: Ballot, out: Effect[]): void {
  if (inst < a.floor || a.decided.has(inst)) return;
  const accepted = a.records.get(inst)?.accepted;
  if (accepted && sameBallot(accepted.ballot, ballot))
    out.push({ type: 'chosen', from, inst, value: accepted.value });
  else out.push({ type: 'missed', inst });
}

/** What a promise reports accepted (nothing, under the mutation that forgets it). */
function reported(a: AcceptorState, accepted: Accepted | null): Accepted | null {
  return a.mutations.has('forget-accepted-on-promise') ? null : accepted;
}

/** The highest of two promises (null: none). */
function higher(x: Ballot | null, y: Ballot | null): Ballot | null {
  if (x === null) return y;
  if (y === null) return x;
  return compareBallots(x, y) >= 0 ? x : y;
}

/** What this acceptor promised for instance `inst`: its record's promise or its term's. */
export function promisedFor(a: AcceptorState, inst: number): Ballot | null {
  const own = a.records.get(inst)?.promised ?? null;
  return a.lead !== null && inst >= a.lead.from ? higher(own, a.lead.ballot) : own;
}

/** The refusal of `ballot`: the acceptor promised `promised`, higher. */
function nack(
  effects: Effect[],
  to: string,
  inst: number,
  ballot: Ballot,
  promised: Ballot,
): Effect[] {
  effects.push({ type: 'send', to, msg: { type: 'nack', inst, ballot, promised } });
  return effects;
}

/** Phase 1 for one instance: a promise unless a higher ballot was promised for it. */
function prepare(
  a: AcceptorState,
  from: string,
  inst: number,
  ballot: Ballot,
  effects: Effect[],
): Effect[] {
  const promised = promisedFor(a, inst);
  if (promised !== null && compareBallots(ballot, promised) < 0)
    return nack(effects, from, inst, ballot, promised);
  const current = a.records.get(inst);
  const next: AcceptorRecord = { promised: ballot, accepted: current?.accepted ?? null };
  a.records.set(inst, next);
  // Durable before the reply that depends on it: the runner holds the send until the write is.
  effects.push(
    { type: 'persist', inst, record: next },
    {
      type: 'send',
      to: from,
      msg: { type: 'promise', inst, ballot, accepted: reported(a, next.accepted) },
    },
  );
  return effects;
}

/**
 * Phase 1 for a term: a promise for `inst` and every instance after it. Refused if any of those
 * instances has a higher promise (the term promise covers them all). The reply carries what was
 * accepted in each of them, so the new leader re-proposes it.
 */
function prepareTerm(
  a: AcceptorState,
  from: string,
  inst: number,
  ballot: Ballot,
  effects: Effect[],
): Effect[] {
  let highest = a.lead?.ballot ?? null; // a term promise covers instances from `inst` on too
  for (const [i, r] of a.records) if (i >= inst) highest = higher(highest, r.promised);
  if (highest !== null && compareBallots(ballot, highest) < 0)
    return nack(effects, from, inst, ballot, highest);
  const lead = a.lead;
  // Promising more than asked (from the lower of the two starts) is safe: it only refuses more.
  const next: LeadPromise = { from: lead ? Math.min(lead.from, inst) : inst, ballot };
  if (lead === null || lead.from !== next.from || !sameBallot(lead.ballot, ballot)) {
    a.lead = next;
    effects.push({ type: 'persist_lead', lead: next });
  }
  const later: Array<[number, Accepted]> = [];
  if (!a.mutations.has('forget-later'))
    for (const [i, r] of a.records) if (i > inst && r.accepted) later.push([i, r.accepted]);
  later.sort(([x], [y]) => x - y);
  const accepted = reported(a, a.records.get(inst)?.accepted ?? null);
  // Durable before the reply that depends on it: the runner holds the send until the write is.
  effects.push({
    type: 'send',
    to: from,
    msg:
      later.length > 0
        ? { type: 'promise', inst, ballot, accepted, later }
        : { type: 'promise', inst, ballot, accepted },
  });
  return effects;
}

/** Phase 2: accept the value unless a higher ballot was promised for this instance. */
function accept(
  a: AcceptorState,
  from: string,
  msg: Extract<PaxosMsg, { type: 'accept' }>,
  effects: Effect[],
): Effect[] {
  const { inst, ballot } = msg;
  const current = a.records.get(inst) ?? { promised: null, accepted: null };
  const promised = promisedFor(a, inst);
  const below = promised !== null && compareBallots(ballot, promised) < 0;
  if (below && !a.mutations.has('accept-below-promise'))
    return nack(effects, from, inst, ballot, promised!);
  if (
    current.accepted &&
    sameBallot(current.accepted.ballot, ballot) &&
    !isDeepStrictEqual(current.accepted.value, msg.value)
  ) {
    throw new InvariantError(
      `two values proposed under ballot ${ballot.round}.${ballot.leader} for instance ${inst}`,
    );
  }
  // (below: only under the mutation, which keeps the higher promise)
  const next: AcceptorRecord = {
    promised: below ? promised! : ballot,
    accepted: { ballot, value: msg.value },
  };
  if (current.promised !== null && compareBallots(next.promised!, current.promised) < 0) {
    throw new InvariantError('an acceptor lowered its promise');
  }
  a.records.set(inst, next);
  // Durable before the reply that depends on it: the runner holds the send until the write is.
  effects.push(
    { type: 'persist', inst, record: next },
    { type: 'send', to: from, msg: { type: 'accepted', inst, ballot } },
  );
  return effects;
}

/** Raises a role's floor and forgets what lies below it in `maps`. */
export function compactBelow(
  role: { floor: number },
  below: number,
  maps: ReadonlyArray<Map<number, unknown>>,
): void {
  if (below <= role.floor) return;
  for (const map of maps) for (const inst of map.keys()) if (inst < below) map.delete(inst);
  role.floor = below;
}
