// The Paxos protocol messages, one discriminated union, and the effects the core asks for.
// `inst` numbers the consensus instance (the coursework's single decree is instance 0).
import type { Ballot } from './ballot.ts';

export interface Accepted {
  readonly ballot: Ballot;
  readonly value: unknown;
}

export type PaxosMsg =
  /**
   * Phase 1a: a leader asks acceptors to promise to ignore lower ballots in instance `inst`;
   * with `term`, in `inst` and every instance after it (Multi-Paxos: one phase 1 for all the
   * instances a stable leader will propose in).
   */
  | { type: 'prepare'; inst: number; ballot: Ballot; term?: true }
  /**
   * Phase 1b: the promise, with what this acceptor accepted in instance `inst` (the highest
   * ballot, if any) and, in `later`, in each instance after it where it accepted something.
   */
  | {
      type: 'promise';
      inst: number;
      ballot: Ballot;
      accepted: Accepted | null;
      later?: Array<[number, Accepted]>;
    }
  /**
   * Phase 2a: a leader with a quorum of promises asks acceptors to accept a value. A term's
   * accept carries, in `chosen`, the instances its ballot got a quorum for since the last one
   * (decisions piggybacked: the value is the one accepted under this same ballot).
   */
  | { type: 'accept'; inst: number; ballot: Ballot; value: unknown; chosen?: number[] }
  /** Phase 2b: the acceptor accepted the ballot's value. */
  | { type: 'accepted'; inst: number; ballot: Ballot }
  /** Refusal: the acceptor promised a higher ballot; the stale leader gives up at once. */
  | { type: 'nack'; inst: number; ballot: Ballot; promised: Ballot }
  /**
   * Refusal: the acceptor compacted this instance away (its replica's snapshot covers it, so it
   * was decided). The proposer gives up; its caller learns the outcome from a snapshot.
   */
  | { type: 'compacted'; inst: number; ballot: Ballot; floor: number }
  /** The value is chosen (a quorum accepted it); every participant learns it. */
  | { type: 'decided'; inst: number; value: unknown }
  /**
   * The term's ballot got a quorum in instance `inst` and the instances in `more`, with no accept
   * going out to carry the news: each participant learns the value it accepted under `ballot`.
   */
  | { type: 'chosen'; inst: number; ballot: Ballot; more?: number[] };

/**
 * An acceptor's promise for a whole term: no ballot below `ballot` in any instance from `from`
 * on. Kept beside the per-instance records (a record's own promise may be higher).
 */
export interface LeadPromise {
  from: number;
  ballot: Ballot;
}

/** What the acceptor must have on disk (per instance) before answering. */
export interface AcceptorRecord {
  promised: Ballot | null;
  accepted: Accepted | null;
}

export type Effect =
  | { type: 'send'; to: string; msg: PaxosMsg }
  /** To every participant, this one included (through best-effort broadcast). */
  | { type: 'broadcast'; msg: PaxosMsg }
  /** Write the highest ballot round this proposer may use durably, before the prepare that uses it. */
  | { type: 'reserve'; round: number }
  /** Write the acceptor record durably; later effects must wait for it. */
  | { type: 'persist'; inst: number; record: AcceptorRecord }
  /** Write the acceptor's term promise durably; later effects must wait for it. */
  | { type: 'persist_lead'; lead: LeadPromise }
  /**
   * A decision for this participant's learner, as if `from` had sent it: from the proposer whose
   * term ballot got a quorum in `inst`, or from the acceptor that heard so and had accepted
   * `value` under that ballot. Purely local: never sent.
   */
  | { type: 'chosen'; from: string; inst: number; value: unknown }
  /** A decision is known here for the first time: write it durably, tell the upper layer. */
  | { type: 'learn'; inst: number; value: unknown }
  /**
   * A term's ballot got a quorum in `inst`, but this acceptor did not accept under it, so it
   * cannot tell the value: the upper layer learns it from its peers (Multi-Paxos terms only).
   */
  | { type: 'missed'; inst: number }
  /** Feed `{ type: 'retry', inst, ballot }` back to the proposer after `afterMs`. */
  | { type: 'timer'; inst: number; ballot: Ballot; afterMs: number }
  /** The acceptor saw a higher round: this participant's proposer must go above it. */
  | { type: 'round_seen'; round: number }
  /** The proposer knows the decision of an instance it was asked to propose in. */
  | { type: 'settled'; inst: number; value: unknown }
  /** This participant's proposal gave up: pre-empted, no value to propose, or compacted away. */
  | {
      type: 'abort';
      inst: number;
      ballot: Ballot | null;
      reason: 'preempted' | 'no_value' | 'compacted';
      by: Ballot | null;
    };
