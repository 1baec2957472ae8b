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
import { type AcceptorEvent, acceptorStep, createAcceptor } from './acceptor.ts';
import type { Ballot } from './ballot.ts';
import { createLearner, type LearnerEvent, learnerStep } from './learner.ts';
import type { Effect, PaxosMsg } from './messages.ts';
import { createProposer, type ProposerEvent, proposerStep } from './proposer.ts';
import { localEvents, type RoleEvent, routeMessage } from './roles.ts';
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
  upper: Pid;
  store: PaxosStore;
  options: ParticipantOptions;
}

/** How a participant runs (Paxos.start's options). */
export interface ParticipantOptions {
  /** Multi-Paxos terms: one phase 1 for every instance from the first on (default false). */
  terms?: boolean;
}

/** Messages between the roles of one participant: an event for the receiving role's core. */
interface LocalEvent {
  type: 'local';
  event: RoleEvent['event'];
}

/** Callbacks for the effects a role answers to callers with (the proposer's waiters). */
interface Hooks {
  onAbort?: (inst: number, reason: 'preempted' | 'no_value' | 'compacted') => void;
  onSettled?: (inst: number, value: unknown) => void;
}

/**
 * Carries out a role's effects in order. A write that is not on disk yet (a promise, a reserved
 * round, a decision) holds every effect after it until it is flushed: nothing that depends on
 * it leaves before. Returns undefined when everything ran synchronously (the in-memory store).
 */
function run(ctx: Ctx, effects: Effect[], hooks: Hooks = {}, from = 0): Promise<void> | undefined {
  for (let i = from; i < effects.length; i++) {
    const e = effects[i]!;
    const pending =
      e.type === 'persist'
        ? ctx.store.persistRecord(e.inst, e.record)
        : e.type === 'reserve'
          ? ctx.store.persistReserved(e.round)
          : e.type === 'learn'
            ? ctx.store.persistDecision(e.inst, e.value)
            : e.type === 'persist_lead'
              ? ctx.store.persistLead(e.lead)
              : undefined;
    if (pending)
      return pending.then(() => {
        carryOut(ctx, e, hooks);
        return run(ctx, effects, hooks, i + 1);
      });
    carryOut(ctx, e, hooks);
  }
  return undefined;
}

/** An effect once the writes before it are on disk. */
function carryOut(ctx: Ctx, e: Effect, hooks: Hooks): void {
  switch (e.type) {
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
      decisionsLearned.inc({ participant: ctx.name });
      send(ctx.upper, { type: 'decide', value: e.value, inst: e.inst } satisfies Decide);
      break;
    case 'abort':
      hooks.onAbort?.(e.inst, e.reason);
      break;
    case 'settled':
      hooks.onSettled?.(e.inst, e.value);
      break;
    case 'timer':
      // Only the proposer role asks for timers: they come back to it.
      sendAfter(self(), { type: 'retry', inst: e.inst, ballot: e.ballot }, e.afterMs);
      break;
    case 'persist':
    case 'persist_lead':
    case 'reserve':
    case 'round_seen':
      break;
    default:
      e satisfies never;
  }
  // The same wiring as the composed core (core.ts): e.g. a decision on disk goes to the
  // proposer and the acceptor of this participant.
  for (const local of localEvents(e))
    sendLocal(roleName(ctx.name, local.role), { type: 'local', event: local.event });
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

/** What a (re)started role reads: the participant's state as last written to its store. */
function durable(ctx: Ctx) {
  const s = ctx.store;
  return {
    records: s.records,
    decided: s.decided,
    reservedRound: s.reservedRound,
    floor: s.floor,
    lead: s.lead,
  };
}

/** The acceptor role: a shell around acceptorStep (acceptor.ts), which owns its state. */
async function acceptor(ctx: Ctx): Promise<void> {
  const state = createAcceptor(ctx.name, ctx.participants, durable(ctx));
  for (;;) {
    const m = await receive<PaxosEnvelope | LocalEvent>();
    const event =
      m.type === 'local' ? (m.event as AcceptorEvent) : routeMessage(m.from, m.msg).event;
    const done = run(ctx, acceptorStep(state, event as AcceptorEvent));
    if (done) await done;
  }
}

/** The proposer role: a shell around proposerStep (proposer.ts); it answers propose calls. */
async function proposer(ctx: Ctx): Promise<void> {
  const state = createProposer(ctx.name, ctx.participants, durable(ctx), undefined, ctx.options);
  const waiters = new Map<number, From[]>();
  /** When this proposer first started a ballot for each unsettled instance (latency metric). */
  const startedAt = new Map<number, number>();
  const settle = (inst: number, outcome: ProposeOutcome) => {
    for (const from of waiters.get(inst) ?? []) reply(from, outcome);
    waiters.delete(inst);
  };
  const hooks: Hooks = {
    onAbort: (inst, reason) => {
      settle(inst, { outcome: 'aborted', reason });
      if (reason === 'compacted') startedAt.delete(inst);
    },
    onSettled: (inst, value) => {
      const t0 = startedAt.get(inst);
      if (t0 !== undefined) {
        decisionLatency.observe({ participant: ctx.name }, (performance.now() - t0) / 1000);
        startedAt.delete(inst);
      }
      settle(inst, { outcome: 'decided', value });
    },
  };
  const stepRun = async (event: ProposerEvent): Promise<void> => {
    if (event.type === 'start_ballot' && !startedAt.has(event.inst))
      startedAt.set(event.inst, performance.now());
    const done = run(ctx, proposerStep(state, event), hooks);
    if (done) await done;
  };
  for (;;) {
    const m = await receive<
      | { type: 'propose'; inst: number; value: unknown }
      | { type: 'start_ballot'; inst: number }
      | { type: 'retry'; inst: number; ballot: Ballot }
      | PaxosEnvelope
      | LocalEvent
      | CallMessage
    >();
    if (isCall(m)) {
      const req = m.request as CallRequest;
      if (req.op !== 'propose') continue;
      addWaiter(waiters, req.inst, m.from);
      await stepRun({ type: 'propose', inst: req.inst, value: req.value });
      // Settled at once (decided or compacted): no ballot.
      if (waiters.has(req.inst))
        await stepRun({ type: 'start_ballot', inst: req.inst, now: performance.now() });
      continue;
    }
    switch (m.type) {
      case 'propose':
        await stepRun({ type: 'propose', inst: m.inst, value: m.value });
        break;
      case 'start_ballot':
        await stepRun({ type: 'start_ballot', inst: m.inst, now: performance.now() });
        break;
      case 'retry':
        await stepRun({ type: 'retry', inst: m.inst, ballot: m.ballot });
        break;
      case 'local':
        await stepRun(m.event as ProposerEvent);
        break;
      case 'paxos':
        await stepRun(routeMessage(m.from, m.msg).event as ProposerEvent);
        break;
    }
  }
}

/** The learner role: a shell around learnerStep (learner.ts); it answers decision calls. */
async function learner(ctx: Ctx): Promise<void> {
  const state = createLearner(ctx.participants, durable(ctx));
  const waiters = new Map<number, From[]>();
  for (;;) {
    const m = await receive<PaxosEnvelope | LocalEvent | CallMessage>();
    if (isCall(m)) {
      const req = m.request as CallRequest;
      if (req.op !== 'decision') continue;
      if (state.decided.has(req.inst)) reply(m.from, state.decided.get(req.inst));
      else addWaiter(waiters, req.inst, m.from);
      continue;
    }
    const event =
      m.type === 'local' ? (m.event as LearnerEvent) : routeMessage(m.from, m.msg).event;
    const done = run(ctx, learnerStep(state, event as LearnerEvent));
    if (done) await done;
    if (event.type !== 'receive') continue;
    const { inst, value } = (event as Extract<LearnerEvent, { type: 'receive' }>).msg;
    if (!state.decided.has(inst)) continue;
    for (const from of waiters.get(inst) ?? []) reply(from, value);
    waiters.delete(inst);
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
export async function participant(
  name: string,
  participants: string[],
  upper: Pid,
  options: ParticipantOptions = {},
): Promise<void> {
  const ctx: Ctx = {
    name,
    participants,
    upper,
    store: openStore(name),
    options,
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
        // Each role forgets what lies below the floor in its own state.
        const compact = { type: 'compact' as const, below: ctx.store.floor };
        for (const role of ['acceptor', 'proposer', 'learner'] as const)
          sendLocal(roleName(name, role), { type: 'local', event: compact } satisfies LocalEvent);
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
        sendLocal(roleName(name, routeMessage(from, msg).role), {
          type: 'paxos',
          from,
          msg,
        } satisfies PaxosEnvelope);
        break;
      }
    }
  }
}
