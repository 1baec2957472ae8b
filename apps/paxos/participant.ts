// One Paxos participant as a small supervision tree: a front process (the participant's pid,
// registered globally) over a supervisor of its BEB layer, acceptor, proposer and learner roles.
import {
  ActorError,
  type CallMessage,
  counter,
  type From,
  Global,
  histogram,
  isCall,
  kill,
  logger,
  nodeName,
  type Pid,
  receive,
  recordEvent,
  register,
  registerProbe,
  reply,
  Supervisor,
  self,
  send,
  sendAfter,
  spawnLink,
  whereis,
} from '../../actors/index.ts';
import { type BcReceive, BEB } from '../beb/index.ts';
import type { Ballot } from './ballot.ts';
import {
  acceptorStep,
  learnerStep,
  type ProposerState,
  proposerDecided,
  proposerRetry,
  proposerStart,
  proposerStep,
} from './core.ts';
import type { Effect, PaxosMsg } from './messages.ts';
import { openStore, type PaxosStore } from './storage.ts';

/** A message from one participant to another (replies go straight to the participant's front). */
export interface PaxosEnvelope {
  type: 'paxos';
  from: string;
  msg: PaxosMsg;
}

/** What the upper process receives, once per instance. */
export interface Decide {
  type: 'decide';
  value: unknown;
  inst: number;
}

export type ProposeOutcome =
  | { outcome: 'decided'; value: unknown }
  | { outcome: 'aborted'; reason: 'preempted' | 'no_value' | 'compacted' }
  | { outcome: 'timeout' };

type FrontRequest =
  | { type: 'propose'; inst: number; value: unknown }
  | { type: 'start_ballot'; inst: number }
  | PaxosEnvelope
  | BcReceive<PaxosMsg>;

export type CallRequest =
  | { op: 'propose'; inst: number; value: unknown }
  | { op: 'decision'; inst: number }
  | { op: 'compact'; below: number };

const roleName = (name: string, role: 'acceptor' | 'proposer' | 'learner' | 'beb') =>
  `paxos:${name}:${role}`;
export const bebName = (name: string) => `${name}/beb`;

interface Ctx {
  name: string;
  participants: string[];
  quorum: number;
  upper: Pid;
  store: PaxosStore;
}

/**
 * Carries out a role's effects in order. A write that is not durable yet (a promise) holds the
 * effects after it until it is: nothing that depends on a promise leaves before the promise is
 * on disk. Returns undefined when everything ran synchronously (the in-memory store).
 */
function run(
  ctx: Ctx,
  effects: Effect[],
  onAbort?: (inst: number, reason: 'preempted' | 'no_value') => void,
  from = 0,
): Promise<void> | undefined {
  for (let i = from; i < effects.length; i++) {
    const e = effects[i]!;
    let pending: Promise<unknown> | undefined = undefined;
    switch (e.type) {
      case 'persist':
        pending = ctx.store.persistRecord(e.inst, e.record);
        break;
      case 'reserve':
        pending = ctx.store.persistReserved(e.round);
        break;
      case 'send': {
        const to = Global.whereis(e.to);
        if (to) send(to, { type: 'paxos', from: ctx.name, msg: e.msg } satisfies PaxosEnvelope);
        break;
      }
      case 'broadcast':
        if (e.msg.type === 'prepare') ballotsStarted.inc({ participant: ctx.name });
        sendLocal(roleName(ctx.name, 'beb'), { type: 'bc_send', msg: e.msg });
        break;
      case 'learn':
        pending = ctx.store.persistDecision(e.inst, e.value);
        if (pending) {
          const learned = e;
          return pending.then(() => {
            announce(ctx, learned.inst, learned.value);
            return run(ctx, effects, onAbort, i + 1);
          });
        }
        announce(ctx, e.inst, e.value);
        break;
      case 'abort':
        onAbort?.(e.inst, e.reason);
        break;
      case 'timer':
        // Only the proposer role asks for timers: they come back to it.
        sendAfter(self(), { type: 'retry', inst: e.inst, ballot: e.ballot }, e.afterMs);
        break;
    }
    if (pending) return pending.then(() => run(ctx, effects, onAbort, i + 1));
  }
  return undefined;
}

const ballotsStarted = counter(
  'actorcluster_paxos_ballots_total',
  "Ballots started (prepare broadcast) by this node's participants",
  ['participant'],
);
const nacksReceived = counter(
  'actorcluster_paxos_nacks_total',
  "Nacks received by this node's proposers (a higher ballot was promised)",
  ['participant'],
);
const decisionsLearned = counter(
  'actorcluster_paxos_decisions_total',
  "Instances learned as decided by this node's participants",
  ['participant'],
);
const decisionLatency = histogram(
  'actorcluster_paxos_decision_seconds',
  'From the first ballot a proposer starts for an instance to the decision, at that proposer',
  [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
  ['participant'],
);

/** A decision is durable: the upper layer is told (once), and the proposer. */
function announce(ctx: Ctx, inst: number, value: unknown): void {
  decisionsLearned.inc({ participant: ctx.name });
  send(ctx.upper, { type: 'decide', value, inst } satisfies Decide);
  sendLocal(roleName(ctx.name, 'proposer'), { type: 'decided_local', inst, value });
}

/** Queues `from` to be answered when instance `inst` settles. */
function addWaiter(waiters: Map<number, From[]>, inst: number, from: From): void {
  const list = waiters.get(inst);
  if (list) list.push(from);
  else waiters.set(inst, [from]);
}

/** Sends to a role on this node; a role being restarted just misses the message. */
function sendLocal(name: string, msg: unknown): void {
  const pid = whereis(name);
  if (pid) send(pid, msg);
}

async function acceptor(ctx: Ctx): Promise<void> {
  const state = { records: ctx.store.records };
  for (;;) {
    const m = await receive<PaxosEnvelope>();
    if (m.msg.type !== 'prepare' && m.msg.type !== 'accept') continue;
    if (m.msg.inst < ctx.store.floor) continue; // compacted: this acceptor no longer takes part
    const done = run(ctx, acceptorStep(state, ctx.store.decided, m.from, m.msg));
    if (done) await done;
  }
}

async function proposer(ctx: Ctx): Promise<void> {
  let maxRound = ctx.store.reservedRound;
  for (const r of ctx.store.records.values())
    if (r.promised) maxRound = Math.max(maxRound, r.promised.round);
  const state: ProposerState = {
    maxRound,
    reservedRound: ctx.store.reservedRound,
    proposals: new Map(),
    ballots: new Map(),
  };
  const waiters = new Map<number, From[]>();
  const settle = (inst: number, outcome: ProposeOutcome) => {
    for (const from of waiters.get(inst) ?? []) reply(from, outcome);
    waiters.delete(inst);
  };
  const onAbort = (inst: number, reason: 'preempted' | 'no_value') =>
    settle(inst, { outcome: 'aborted', reason });
  /** When this proposer first started a ballot for each unsettled instance (latency metric). */
  const startedAt = new Map<number, number>();
  const startBallot = async (inst: number): Promise<void> => {
    if (!startedAt.has(inst)) startedAt.set(inst, performance.now());
    const started = run(
      ctx,
      proposerStart(state, ctx.name, ctx.store.decided, inst, performance.now()),
      onAbort,
    );
    if (started) await started;
  };
  for (;;) {
    const m = await receive<{ type: string; inst: number; value: unknown } | PaxosEnvelope>();
    if (isCall(m)) {
      const req = m.request as CallRequest;
      if (req.op !== 'propose') continue;
      if (req.inst < ctx.store.floor) {
        reply(m.from, { outcome: 'aborted', reason: 'compacted' } satisfies ProposeOutcome);
        continue;
      }
      if (ctx.store.decided.has(req.inst)) {
        reply(m.from, {
          outcome: 'decided',
          value: ctx.store.decided.get(req.inst),
        } satisfies ProposeOutcome);
        continue;
      }
      state.proposals.set(req.inst, req.value);
      addWaiter(waiters, req.inst, m.from);
      await startBallot(req.inst);
      continue;
    }
    switch (m.type) {
      case 'propose':
        state.proposals.set(m.inst, (m as { value: unknown }).value);
        break;
      case 'start_ballot':
        await startBallot(m.inst);
        break;
      case 'retry': {
        const done = run(
          ctx,
          proposerRetry(state, m.inst, (m as unknown as { ballot: Ballot }).ballot),
          onAbort,
        );
        if (done) await done;
        break;
      }
      case 'decided_local': {
        const t0 = startedAt.get(m.inst);
        if (t0 !== undefined) {
          decisionLatency.observe({ participant: ctx.name }, (performance.now() - t0) / 1000);
          startedAt.delete(m.inst);
        }
        proposerDecided(state, m.inst);
        settle(m.inst, { outcome: 'decided', value: (m as { value: unknown }).value });
        break;
      }
      case 'paxos': {
        const msg = (m as PaxosEnvelope).msg;
        if (msg.type === 'promise' || msg.type === 'accepted' || msg.type === 'nack') {
          const done = run(
            ctx,
            proposerStep(state, ctx.quorum, (m as PaxosEnvelope).from, msg),
            onAbort,
          );
          if (done) await done;
        }
        break;
      }
    }
  }
}

async function learner(ctx: Ctx): Promise<void> {
  const state = { decided: ctx.store.decided };
  const waiters = new Map<number, From[]>();
  for (;;) {
    const m = await receive();
    if (isCall(m)) {
      const req = m.request as CallRequest;
      if (req.op !== 'decision') continue;
      if (state.decided.has(req.inst)) reply(m.from, state.decided.get(req.inst));
      else addWaiter(waiters, req.inst, m.from);
      continue;
    }
    const env = m as PaxosEnvelope;
    if (env.type !== 'paxos' || env.msg.type !== 'decided') continue;
    if (env.msg.inst < ctx.store.floor) continue; // compacted: already covered by a snapshot
    // learnerStep records the decision in the store's map; run() persists and tells upper once.
    const effects = learnerStep(state, env.msg.inst, env.msg.value);
    const done = run(ctx, effects);
    if (done) await done;
    for (const from of waiters.get(env.msg.inst) ?? []) reply(from, env.msg.value);
    waiters.delete(env.msg.inst);
  }
}

/** Every Paxos message is logged (info) when ACTORCLUSTER_TRACE includes 'paxos'. */
const TRACE = (process.env.ACTORCLUSTER_TRACE ?? '').split(',').includes('paxos');
/** Instances a participant describes to observers (the most recent ones). */
const INSTANCES_SHOWN = 30;

/** A value as observers show it: JSON, cut to 80 characters. */
export const shortValue = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

/**
 * What observers see of a participant: recent instances with the ballots seen and decisions.
 * Values are kept as they are and turned into text only when an observer asks (a value may be
 * a batch of hundreds of operations: stringifying it per message would cost the hot path).
 */
class ParticipantView {
  readonly instances = new Map<number, { ballots: string[]; decided?: unknown }>();
  constructor(
    private readonly name: string,
    private readonly participants: string[],
    private readonly store: PaxosStore,
  ) {}

  /** Records a message the participant received (and logs it in trace mode). */
  saw(from: string, msg: PaxosMsg): void {
    const ballot = 'ballot' in msg ? `${msg.ballot.round}.${msg.ballot.leader}` : undefined;
    const value = msg.type === 'accept' || msg.type === 'decided' ? msg.value : undefined;
    const event = {
      node: nodeName(),
      participant: this.name,
      from,
      type: msg.type,
      inst: msg.inst,
      ballot,
      value,
    };
    recordEvent('paxos', event);
    if (msg.type === 'nack') nacksReceived.inc({ participant: this.name });
    if (TRACE) {
      logger().info(
        { ...event, value: value === undefined ? undefined : shortValue(value) },
        `paxos ${msg.type} ${from} -> ${this.name} inst ${msg.inst}`,
      );
    }
    let info = this.instances.get(msg.inst);
    if (!info) {
      info = { ballots: [] };
      this.instances.set(msg.inst, info);
      if (this.instances.size > INSTANCES_SHOWN) {
        const oldest = Math.min(...this.instances.keys());
        this.instances.delete(oldest);
      }
    }
    if (msg.type === 'prepare' && ballot && !info.ballots.includes(ballot))
      info.ballots.push(ballot);
    if (msg.type === 'decided') info.decided = msg.value;
  }

  describe() {
    return {
      name: this.name,
      participants: this.participants,
      decided: this.store.decided.size,
      floor: this.store.floor,
      instances: [...this.instances]
        .sort(([a], [b]) => a - b)
        .map(([inst, i]) => ({
          inst,
          ballots: i.ballots,
          decided: 'decided' in i ? shortValue(i.decided) : undefined,
        })),
    };
  }
}

/** The participant's front: its pid is what Paxos.start returns; it routes to the roles. */
export async function participant(name: string, participants: string[], upper: Pid): Promise<void> {
  const ctx: Ctx = {
    name,
    participants,
    quorum: Math.floor(participants.length / 2) + 1,
    upper,
    store: openStore(name),
  };
  const me = self();
  const view = new ParticipantView(name, participants, ctx.store);
  registerProbe('paxos', me, () => view.describe());
  // The name first: a participant refused for a name that is running touches nothing of the
  // running one (its roles have the same local names).
  if (!(await Global.register(name, me))) {
    throw new ActorError('name_taken', `a Paxos participant named '${name}' is already registered`);
  }
  // Roles of an earlier incarnation of this participant may still be shutting down: end them now.
  for (const role of ['beb', 'acceptor', 'proposer', 'learner'] as const) {
    const old = whereis(roleName(name, role));
    if (old) kill(old);
  }
  // A role's name is registered by the supervisor as it starts the role, before anything can
  // be routed to it.
  const startRole = (
    role: 'acceptor' | 'proposer' | 'learner',
    body: (ctx: Ctx) => Promise<void>,
  ) => {
    const pid = spawnLink(body, ctx);
    register(roleName(name, role), pid);
    return pid;
  };
  const sup = Supervisor.startLink(
    [
      {
        id: 'beb',
        start: () => {
          const pid = BEB.startLink(bebName(name), participants.map(bebName), me);
          register(roleName(name, 'beb'), pid);
          return pid;
        },
      },
      { id: 'acceptor', start: () => startRole('acceptor', acceptor) },
      { id: 'learner', start: () => startRole('learner', learner) },
      { id: 'proposer', start: () => startRole('proposer', proposer) },
    ],
    { strategy: 'one_for_one', maxRestarts: 10, periodMs: 10_000 },
  );
  // Every role is registered once the supervisor has started them all: only then does the front
  // read its mailbox, so a propose or start_ballot sent right after start is not lost.
  await Supervisor.whichChildren(sup);
  for (;;) {
    const m = await receive<FrontRequest | CallMessage>();
    if (isCall(m)) {
      const req = m.request as CallRequest;
      if (req.op === 'compact') {
        await ctx.store.compact(req.below);
        reply(m.from, ctx.store.floor);
        continue;
      }
      sendLocal(roleName(name, req.op === 'propose' ? 'proposer' : 'learner'), m);
      continue;
    }
    switch (m.type) {
      case 'propose':
      case 'start_ballot':
        sendLocal(roleName(name, 'proposer'), m);
        break;
      case 'paxos':
      case 'bc_receive': {
        const from = m.type === 'paxos' ? m.from : m.origin.replace(/\/beb$/, '');
        const msg = m.msg;
        view.saw(from, msg);
        const role =
          msg.type === 'prepare' || msg.type === 'accept'
            ? 'acceptor'
            : msg.type === 'decided'
              ? 'learner'
              : 'proposer';
        sendLocal(roleName(name, role), { type: 'paxos', from, msg } satisfies PaxosEnvelope);
        break;
      }
    }
  }
}
