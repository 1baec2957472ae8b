// The acceptor role as a pure step function: (state, event) -> effects. It owns its records
// (promise and accepted value per instance) and answers prepare and accept; durable first.
import { isDeepStrictEqual } from 'node:util';
import { compareBallots, sameBallot } from './ballot.ts';
import type { AcceptorRecord, Effect, PaxosMsg } from './messages.ts';
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
  /** Decisions the learner told this acceptor of: a prepare or accept for one gets the decision. */
  decided: Map<number, unknown>;
  /** Instances below the floor were compacted: the acceptor takes no part in them. */
  floor: number;
  /** The highest round told to this participant's proposer (told again only when it grows). */
  roundTold: number;
  readonly mutations: ReadonlySet<PaxosMutation>;
}

export type AcceptorEvent =
  | { type: 'receive'; from: string; msg: Extract<PaxosMsg, { type: 'prepare' | 'accept' }> }
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
  },
  mutations: ReadonlySet<PaxosMutation> = NO_MUTATIONS,
): AcceptorState {
  return {
    me,
    participants,
    records: new Map(durable?.records),
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
  msg: Extract<PaxosMsg, { type: 'prepare' | 'accept' }>,
): Effect[] {
  const { inst, ballot } = msg;
  if (!a.participants.includes(from)) return []; // not a member: ignored
  if (inst < a.floor) {
    // Compacted: a snapshot covers it, so it was decided. Said, not ignored: a proposer that
    // missed the decision would otherwise retry for ever.
    return [{ type: 'send', to: from, msg: { type: 'compacted', inst, ballot, floor: a.floor } }];
  }
  // The proposer of this participant goes above any round its acceptor has seen.
  const effects: Effect[] = [];
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
    return effects;
  }
  const current = a.records.get(inst) ?? { promised: null, accepted: null };
  const below = current.promised !== null && compareBallots(ballot, current.promised) < 0;
  if (below && !(msg.type === 'accept' && a.mutations.has('accept-below-promise'))) {
    effects.push({
      type: 'send',
      to: from,
      msg: { type: 'nack', inst, ballot, promised: current.promised! },
    });
    return effects;
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
    const promised = below ? current.promised! : ballot; // (below: only under the mutation)
    next = { promised, accepted: { ballot, value: msg.value } };
    reply = { type: 'accepted', inst, ballot };
  }
  if (current.promised !== null && compareBallots(next.promised!, current.promised) < 0) {
    throw new InvariantError('an acceptor lowered its promise');
  }
  a.records.set(inst, next);
  // Durable before the reply that depends on it: the runner holds the send until the write is.
  effects.push({ type: 'persist', inst, record: next }, { type: 'send', to: from, msg: reply });
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
