// One Paxos participant as a small supervision tree: a front process (the participant's pid,
// registered globally) over a supervisor of its BEB layer, acceptor, proposer and learner roles.
//
// Routing: a Paxos message goes straight to the role that handles it (roles.ts routeMessage),
// addressed by the role's local name on the node of the participant it is for: a prepare from
// the proposer to each acceptor, a promise from an acceptor to the asking proposer, a decision
// to each learner. No hop through the front or the BEB process (a broadcast is best-effort
// as before: one send to each participant registered by name, none retransmitted; the front
// still routes what reaches it, from an older peer or through BEB, to the roles).
// The front's pid stays the participant: a role takes such a message only while the front is
// alive, and waits while it is suspended (as the messages waited in the front's mailbox).
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
  processInfo,
  receive,
  recordEvent,
  register,
  registerProbe,
  reply,
  Supervisor,
  self,
  send,
  sendAfter,
  sleep,
  spawnLink,
  TIMEOUT,
  whereis,
} from '../../actors/index.ts';
import { type BcReceive, BEB } from '../beb/index.ts';
import { type AcceptorEvent, acceptorStep, createAcceptor } from './acceptor.ts';
import type { Ballot } from './ballot.ts';
import { Held, type WriteFailed } from './held.ts';
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

/**
 * What the upper process receives when instance `inst` was decided without this participant's
 * acceptor (Multi-Paxos terms only): the value is to be learnt from the peers.
 */
export interface Missed {
  type: 'missed';
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
/** The local name of a participant's proposer role (registered on the participant's node). */
export const proposerName = (name: string) => roleName(name, 'proposer');

interface Ctx {
  /** The participant's front (its pid): its roles act for it only while it is alive. */
  front: Pid;
  name: string;
  participants: string[];
  upper: Pid;
  store: PaxosStore;
  options: ParticipantOptions;
  /** What observers see: each role records the Paxos messages it receives. */
  view: ParticipantView;
  /** Where the roles of every participant (this one included) are found, by participant. */
  peers: Map<string, Peer>;
  /** This participant's roles' local names. */
  own: Peer;
}

type RoleName = 'acceptor' | 'proposer' | 'learner';

/** The names a participant's roles are reached by: made once, not per message. */
interface Peer {
  /** Its global name (its front's): where the participant is, while it is up. */
  front: string;
  /** Its roles' local names, registered on the participant's node. */
  roles: Record<RoleName, string>;
}

function peerOf(name: string): Peer {
  return {
    front: name,
    roles: {
      acceptor: roleName(name, 'acceptor'),
      proposer: roleName(name, 'proposer'),
      learner: roleName(name, 'learner'),
    },
  };
}

/**
 * Sends `msg` to the role registered as `local` on the node of `holder` (a global name's pid).
 * Resolved on arrival: a role being restarted (or not registered yet) just misses the message.
 */
function toRole(holder: Pid | undefined, local: string, msg: unknown): void {
  if (holder === undefined) return;
  if (holder.node !== nodeName()) {
    send([local, holder.node], msg);
    return;
  }
  const pid = whereis(local);
  if (pid) send(pid, msg);
}

/** How long a role waits before it looks again whether its suspended front was resumed. */
const SUSPENDED_POLL_MS = 1;

/**
 * Whether a role may handle a Paxos message that came to it directly: not once its front is
 * dead (the participant was killed; its roles are being stopped), and only after its front is
 * resumed if it is suspended. Synchronous in the common case (alive, running).
 */
function admitted(ctx: Ctx): boolean | Promise<boolean> {
  const info = processInfo(ctx.front);
  if (!info) return false;
  if (!info.suspended) return true;
  return (async () => {
    for (;;) {
      await sleep(SUSPENDED_POLL_MS);
      const now = processInfo(ctx.front);
      if (!now) return false;
      if (!now.suspended) return true;
    }
  })();
}

/** A `send` effect: to the role of participant `to` that handles `msg`. */
function sendTo(ctx: Ctx, to: string, msg: PaxosMsg): void {
  const peer = ctx.peers.get(to) ?? peerOf(to);
  const envelope: PaxosEnvelope = { type: 'paxos', from: ctx.name, msg };
  toRole(Global.whereis(peer.front), peer.roles[routeMessage(ctx.name, msg).role], envelope);
}

/**
 * A `broadcast` effect: best-effort to the handling role of every participant (this one
 * included) that is registered; one envelope for all. By the participant's own name, not its
 * BEB's: that one is registered later (a cluster-wide transaction of its own, after the roles
 * are up), and a decision broadcast in between would pass the participant by for good.
 */
function broadcast(ctx: Ctx, msg: PaxosMsg): void {
  const role = routeMessage(ctx.name, msg).role;
  const envelope: PaxosEnvelope = { type: 'paxos', from: ctx.name, msg };
  for (const peer of ctx.peers.values())
    toRole(Global.whereis(peer.front), peer.roles[role], envelope);
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

/** The write an effect asks for, issued now: a promise until it is on disk (none in memory). */
function issueWrite(ctx: Ctx, e: Effect): Promise<unknown> | undefined {
  return e.type === 'persist'
    ? ctx.store.persistRecord(e.inst, e.record)
    : e.type === 'reserve'
      ? ctx.store.persistReserved(e.round)
      : e.type === 'learn'
        ? ctx.store.persistDecision(e.inst, e.value)
        : e.type === 'persist_lead'
          ? ctx.store.persistLead(e.lead)
          : undefined;
}

/** A role's effect runner: each effect after the writes before it (held.ts). */
function heldFor(ctx: Ctx, hooks: Hooks = {}): Held<Effect> {
  return new Held<Effect>(
    (e) => issueWrite(ctx, e),
    (e) => carryOut(ctx, e, hooks),
  );
}

/** An effect once the writes before it are on disk. */
function carryOut(ctx: Ctx, e: Effect, hooks: Hooks): void {
  switch (e.type) {
    case 'send':
      sendTo(ctx, e.to, e.msg);
      break;
    case 'broadcast':
      if (e.msg.type === 'prepare') ballotsStarted.inc({ participant: ctx.name });
      broadcast(ctx, e.msg);
      break;
    case 'learn':
      decisionsLearned.inc({ participant: ctx.name });
      send(ctx.upper, { type: 'decide', value: e.value, inst: e.inst } satisfies Decide);
      break;
    case 'missed':
      send(ctx.upper, { type: 'missed', inst: e.inst } satisfies Missed);
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
    case 'chosen': // for this participant's learner (below)
      break;
    default:
      e satisfies never;
  }
  // The same wiring as the composed core (core.ts): e.g. a decision on disk goes to the
  // proposer and the acceptor of this participant.
  for (const local of localEvents(e))
    sendLocal(ctx.own.roles[local.role], { type: 'local', event: local.event });
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
  const held = heldFor(ctx);
  for (;;) {
    const m = await receive<PaxosEnvelope | LocalEvent | WriteFailed>();
    held.check();
    if (m.type === 'write_failed') continue;
    if (m.type === 'paxos') {
      const ok = admitted(ctx);
      if (!(ok === true || (ok !== false && (await ok)))) continue;
      ctx.view.saw(m.from, m.msg);
    }
    const event =
      m.type === 'local' ? (m.event as AcceptorEvent) : routeMessage(m.from, m.msg).event;
    held.run(acceptorStep(state, event as AcceptorEvent));
    if (held.full) await held.drained();
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
  const held = heldFor(ctx, hooks);
  /** Steps the core; its effects are carried out in order behind pending writes (Held). */
  const stepRun = (event: ProposerEvent): Effect[] => {
    if (event.type === 'start_ballot' && !startedAt.has(event.inst))
      startedAt.set(event.inst, performance.now());
    const effects = proposerStep(state, event);
    held.run(effects);
    return effects;
  };
  type ProposerMessage =
    | { type: 'propose'; inst: number; value: unknown }
    | { type: 'start_ballot'; inst: number }
    | { type: 'retry'; inst: number; ballot: Ballot }
    | PaxosEnvelope
    | LocalEvent
    | CallMessage
    | WriteFailed;
  for (;;) {
    // With decisions no accept carried yet: take what the mailbox holds, then announce them.
    const m =
      state.unannounced !== undefined
        ? await receive<ProposerMessage>(null, 0)
        : await receive<ProposerMessage>();
    held.check();
    if (m === TIMEOUT) {
      stepRun({ type: 'flush' });
      continue;
    }
    if (isCall(m)) {
      const req = m.request as CallRequest;
      if (req.op !== 'propose') continue;
      addWaiter(waiters, req.inst, m.from);
      const effects = stepRun({ type: 'propose', inst: req.inst, value: req.value });
      // Settled at once (decided or compacted; its answer may still wait for a write): no ballot.
      const settled = effects.some(
        (e) => (e.type === 'settled' || e.type === 'abort') && e.inst === req.inst,
      );
      if (!settled) stepRun({ type: 'start_ballot', inst: req.inst, now: performance.now() });
    } else {
      switch (m.type) {
        case 'propose':
          stepRun({ type: 'propose', inst: m.inst, value: m.value });
          break;
        case 'start_ballot':
          stepRun({ type: 'start_ballot', inst: m.inst, now: performance.now() });
          break;
        case 'retry':
          stepRun({ type: 'retry', inst: m.inst, ballot: m.ballot });
          break;
        case 'local':
          stepRun(m.event as ProposerEvent);
          break;
        case 'paxos': {
          const ok = admitted(ctx);
          if (!(ok === true || (ok !== false && (await ok)))) break;
          ctx.view.saw(m.from, m.msg);
          stepRun(routeMessage(m.from, m.msg).event as ProposerEvent);
          break;
        }
        case 'write_failed':
          break;
      }
    }
    if (held.full) await held.drained();
  }
}

/** The learner role: a shell around learnerStep (learner.ts); it answers decision calls. */
async function learner(ctx: Ctx): Promise<void> {
  const state = createLearner(ctx.participants, durable(ctx));
  const waiters = new Map<number, From[]>();
  const held = heldFor(ctx);
  for (;;) {
    const m = await receive<PaxosEnvelope | LocalEvent | CallMessage | WriteFailed>();
    held.check();
    if (isCall(m)) {
      const req = m.request as CallRequest;
      if (req.op !== 'decision') continue;
      if (state.decided.has(req.inst)) {
        // Known here, perhaps not on disk yet: answered once it is.
        const value = state.decided.get(req.inst);
        held.after(() => reply(m.from, value));
      } else addWaiter(waiters, req.inst, m.from);
      continue;
    }
    if (m.type === 'write_failed') continue;
    if (m.type === 'paxos') {
      const ok = admitted(ctx);
      if (!(ok === true || (ok !== false && (await ok)))) continue;
      ctx.view.saw(m.from, m.msg);
    }
    const event =
      m.type === 'local' ? (m.event as LearnerEvent) : routeMessage(m.from, m.msg).event;
    held.run(learnerStep(state, event as LearnerEvent));
    if (event.type === 'receive') {
      const { inst, value } = (event as Extract<LearnerEvent, { type: 'receive' }>).msg;
      if (state.decided.has(inst)) ctx.view.learned(inst, state.decided.get(inst));
      const list = state.decided.has(inst) ? waiters.get(inst) : undefined;
      if (list) {
        waiters.delete(inst);
        held.after(() => {
          for (const from of list) reply(from, value);
        });
      }
    }
    if (held.full) await held.drained();
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
    if (msg.type === 'prepare' && ballot) {
      const info = this.info(msg.inst);
      if (!info.ballots.includes(ballot)) info.ballots.push(ballot);
    }
  }

  /** Records a decision the participant's learner took (from a message or its own roles). */
  learned(inst: number, value: unknown): void {
    this.info(inst).decided = value;
  }

  private info(inst: number): { ballots: string[]; decided?: unknown } {
    let info = this.instances.get(inst);
    if (!info) {
      info = { ballots: [] };
      this.instances.set(inst, info);
      if (this.instances.size > INSTANCES_SHOWN) {
        const oldest = Math.min(...this.instances.keys());
        this.instances.delete(oldest);
      }
    }
    return info;
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
  const store = openStore(name);
  const view = new ParticipantView(name, participants, store);
  const peers = new Map(participants.map((p) => [p, peerOf(p)]));
  const me = self();
  const ctx: Ctx = {
    front: me,
    name,
    participants,
    upper,
    store,
    options,
    view,
    peers,
    own: peers.get(name)!,
  };
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
        // The role records it for observers (as it does what comes to it directly).
        sendLocal(ctx.own.roles[routeMessage(from, msg).role], {
          type: 'paxos',
          from,
          msg,
        } satisfies PaxosEnvelope);
        break;
      }
    }
  }
}
