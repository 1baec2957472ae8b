// The Paxos API in the coursework's shape: start(name, participants, upper), propose(pid, value),
// startBallot(pid); plus the multi-instance API the replicated services use.
import { checkValue } from '../../actors/codec.ts';
import {
  ActorError,
  call,
  Global,
  isPid,
  type Pid,
  send,
  showValue,
  sleep,
  spawnOpt,
} from '../../actors/index.ts';
import {
  type CallRequest,
  type Decide,
  type ParticipantOptions,
  type ProposeOutcome,
  participant,
} from './participant.ts';
import { openStore } from './storage.ts';

export type { Decide, ProposeOutcome };

function checkPid(pid: unknown, what = 'the pid returned by Paxos.start'): void {
  if (!isPid(pid))
    throw new ActorError('invalid_argument', `expected ${what}, got ${showValue(pid)}`);
}

function checkInst(inst: unknown): asserts inst is number {
  if (!Number.isInteger(inst) || (inst as number) < 0)
    throw new ActorError(
      'invalid_argument',
      `an instance must be an integer >= 0, got ${String(inst)}`,
    );
}

/** Coursework form: only stores the value for instance 0; startBallot runs the protocol. */
function propose(pid: Pid, value: unknown, ...extra: unknown[]): void {
  checkPid(pid);
  if (extra.length > 0)
    throw new ActorError(
      'invalid_argument',
      'propose(pid, value) takes two arguments; to run an instance use proposeInstance(pid, inst, value, timeoutMs)',
    );
  checkValue(value, 'a Paxos value');
  send(pid, { type: 'propose', inst: 0, value });
}

/** Runs a ballot for instance `inst` with `value`; resolves to its outcome (never rejects on timeout). */
async function proposeInstance(
  pid: Pid,
  inst: number,
  value: unknown,
  timeoutMs: number,
): Promise<ProposeOutcome> {
  checkPid(pid);
  checkInst(inst);
  if (typeof timeoutMs !== 'number' || !(timeoutMs > 0))
    throw new ActorError(
      'invalid_argument',
      `timeoutMs must be a number > 0, got ${String(timeoutMs)}`,
    );
  checkValue(value, 'a Paxos value');
  try {
    return await call<ProposeOutcome>(
      pid,
      { op: 'propose', inst, value } satisfies CallRequest,
      timeoutMs,
    );
  } catch (err) {
    if (err instanceof ActorError && err.code === 'timeout') return { outcome: 'timeout' } as const;
    throw err;
  }
}

function startBallot(pid: Pid, inst = 0): void {
  checkPid(pid);
  checkInst(inst);
  send(pid, { type: 'start_ballot', inst });
}

/** Longest pause between two attempts of Paxos.decide (ms). */
const BACKOFF_CAP_MS = 400;

/**
 * Proposes `value` for instance `inst` until the instance is decided, whoever's value wins.
 * After a pre-empted (or timed-out) attempt it waits a random time, doubling its bound each
 * time (5, 10, 20 ... 400 ms): duelling proposers drift apart until one of them completes both
 * phases undisturbed. Throws ActorError timeout if nothing is decided within `timeoutMs`.
 */
async function decide(
  pid: Pid,
  inst: number,
  value: unknown,
  options: { timeoutMs?: number; random?: () => number } = {},
): Promise<unknown> {
  checkPid(pid);
  checkInst(inst);
  checkValue(value, 'a Paxos value');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const random = options.random ?? Math.random;
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const r = await proposeInstance(pid, inst, value, Math.min(left, 1000));
    if (r.outcome === 'decided') return r.value;
    if (r.outcome === 'aborted' && r.reason === 'compacted')
      throw new ActorError('invalid_argument', `instance ${inst} was compacted away here`);
    const bound = Math.min(5 * 2 ** attempt, BACKOFF_CAP_MS);
    await sleep(Math.min(random() * bound, Math.max(0, deadline - Date.now())));
  }
  throw new ActorError('timeout', `instance ${inst} not decided within ${timeoutMs} ms`);
}

export const Paxos = {
  /**
   * Starts a participant registered globally as `name`; `upper` receives
   * `{ type: 'decide', value, inst }` once per decided instance. Returns its pid at once.
   * `options.terms`: Multi-Paxos, a stable leader runs phase 1 once per term for every instance
   * from the first it proposes in, then only phase 2 (the replicated services use it); without
   * it (the coursework's Paxos), each instance has its own phase 1.
   */
  start(name: string, participants: string[], upper: Pid, options: ParticipantOptions = {}): Pid {
    if (typeof name !== 'string' || name.length === 0)
      throw new ActorError('invalid_argument', 'a participant name must be a non-empty string');
    if (
      !Array.isArray(participants) ||
      !participants.includes(name) ||
      new Set(participants).size !== participants.length
    ) {
      throw new ActorError(
        'invalid_argument',
        `participants must be distinct names including '${name}'`,
      );
    }
    checkPid(upper, 'the upper process (a pid)');
    // Data kept under this name must belong to this cluster (throws invalid_argument if not).
    openStore(name).claim(participants);
    // A refused start leaves the running participant of that name untouched.
    const running = Global.whereis(name);
    if (running)
      throw new ActorError(
        'name_taken',
        `a Paxos participant named '${name}' is already running (${running}); kill it first`,
      );
    if (
      options === null ||
      typeof options !== 'object' ||
      (options.terms !== undefined && typeof options.terms !== 'boolean')
    )
      throw new ActorError('invalid_argument', 'options.terms must be true or false');
    return spawnOpt(participant, [name, [...participants], upper, { terms: options.terms }], {
      label: `Paxos ${name}`,
    });
  },
  /** Coursework: stores the value (instance 0); nothing is sent until startBallot. */
  propose,
  /** Multi-instance: runs a ballot for `inst` and resolves to { outcome: 'decided', value } | ... */
  proposeInstance,
  propose_instance: proposeInstance,
  /** Proposes until the instance is decided (randomised exponential backoff); resolves to the decided value. */
  decide,
  /** Runs both phases as leader of a new ballot (instance 0 by default). */
  startBallot,
  start_ballot: startBallot,
  /** The decided value of an instance, waiting up to timeoutMs; null if none by then. */
  async getDecision(pid: Pid, inst: number, timeoutMs: number): Promise<unknown> {
    checkPid(pid);
    checkInst(inst);
    try {
      return await call(pid, { op: 'decision', inst } satisfies CallRequest, timeoutMs);
    } catch (err) {
      if (err instanceof ActorError && err.code === 'timeout') return null;
      throw err;
    }
  },
  get_decision(pid: Pid, inst: number, timeoutMs: number): Promise<unknown> {
    return Paxos.getDecision(pid, inst, timeoutMs);
  },
  /**
   * Forgets every instance below `below` (its records and decisions), durably: call it once a
   * snapshot of the replicated state covers them. The participant then takes no part in those
   * instances (as if it were down for them), so agreement is unaffected. Resolves to the floor.
   */
  async compact(pid: Pid, below: number, timeoutMs = 10_000): Promise<number> {
    checkPid(pid);
    checkInst(below);
    return await call<number>(pid, { op: 'compact', below } satisfies CallRequest, timeoutMs);
  },
};
