// A small deterministic simulation of Paxos participants running the pure core, for the
// property tests: a seeded scheduler, a lossy/duplicating/reordering network, crash/restart.
import type { Ballot } from '../../apps/paxos/ballot.ts';
import {
  createParticipant,
  type DurableState,
  type ParticipantState,
  step,
} from '../../apps/paxos/core.ts';
import type { Effect, PaxosMsg } from '../../apps/paxos/messages.ts';
import type { PaxosMutation } from '../../apps/paxos/mutations.ts';
import { seededRandom } from '../../transport/faults.ts';

export interface SimConfig {
  seed: number;
  n: number;
  instances: number;
  lossP: number;
  dupP: number;
  crashP: number;
  /** Steps with faults on. */
  faultSteps: number;
  /** Steps allowed, after faults stop, for every instance to be decided everywhere. */
  calmSteps: number;
  /** Test only: deliberately broken roles (apps/paxos/mutations.ts). */
  mutations?: ReadonlySet<PaxosMutation>;
  /** Multi-Paxos terms (default false: phase 1 per instance). */
  terms?: boolean;
}

export interface SimResult {
  decided: Map<number, unknown>;
  learnedBy: Map<string, Map<number, unknown>>;
  messages: number;
  ballots: number;
  /** Steps from the end of faults until every participant knew every decision (-1 if never). */
  calmStepsUsed: number;
}

interface InFlight {
  from: string;
  to: string;
  msg: PaxosMsg;
}

export function simulate(cfg: SimConfig): SimResult {
  const random = seededRandom(cfg.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const names = Array.from({ length: cfg.n }, (_, i) => `p${i + 1}`);
  const durable = new Map<string, DurableState>(
    names.map((n) => [n, { records: new Map(), decided: new Map(), reservedRound: 0 }]),
  );
  const live = new Map<string, ParticipantState>(
    names.map((n) => [
      n,
      createParticipant(n, names, undefined, cfg.mutations, { terms: cfg.terms }),
    ]),
  );
  const proposed = new Map<number, Set<unknown>>();
  const learnedBy = new Map<string, Map<number, unknown>>(names.map((n) => [n, new Map()]));
  const decided = new Map<number, unknown>();
  let net: InFlight[] = [];
  let messages = 0;
  let ballots = 0;
  let faults = true;
  let restarts = 0;

  for (const name of names) {
    for (let inst = 0; inst < cfg.instances; inst++) {
      const value = { by: name, inst, v: Math.floor(random() * 1000) };
      step(live.get(name)!, { type: 'propose', inst, value });
      if (!proposed.has(inst)) proposed.set(inst, new Set());
      proposed.get(inst)!.add(JSON.stringify(value));
    }
  }

  const run = (name: string, effects: Effect[]) => {
    const store = durable.get(name)!;
    for (const e of effects) {
      // A crash may strike between any two effects (after a persist, before its reply).
      if (faults && random() < cfg.crashP / 4) {
        crash(name);
        return;
      }
      switch (e.type) {
        case 'reserve':
          store.reservedRound = Math.max(store.reservedRound, e.round);
          break;
        case 'persist':
          store.records.set(e.inst, e.record);
          break;
        case 'persist_lead':
          store.lead = e.lead;
          break;
        case 'learn': {
          store.decided.set(e.inst, e.value);
          learnedBy.get(name)!.set(e.inst, e.value);
          const key = JSON.stringify(e.value);
          if (!proposed.get(e.inst)?.has(key))
            throw new Error(`validity: ${name} learned ${key}, never proposed for ${e.inst}`);
          if (decided.has(e.inst) && JSON.stringify(decided.get(e.inst)) !== key) {
            throw new Error(
              `agreement: instance ${e.inst} decided ${JSON.stringify(decided.get(e.inst))} and ${key}`,
            );
          }
          decided.set(e.inst, e.value);
          break;
        }
        case 'send':
          net.push({ from: name, to: e.to, msg: e.msg });
          messages++;
          break;
        case 'broadcast':
          if (e.msg.type === 'prepare') ballots++;
          for (const to of names) net.push({ from: name, to, msg: e.msg });
          messages += names.length;
          break;
        case 'abort':
          break;
      }
    }
  };

  const crash = (name: string) => {
    live.delete(name); // its volatile state is gone; durable state stays
    net = net.filter((m) => m.to !== name); // messages to a crashed process are lost
  };

  const restart = (name: string) => {
    const d = durable.get(name)!;
    const p = createParticipant(
      name,
      names,
      {
        records: new Map(d.records),
        decided: new Map(d.decided),
        reservedRound: d.reservedRound,
        lead: d.lead,
      },
      cfg.mutations,
      { terms: cfg.terms },
    );
    restarts++;
    for (let inst = 0; inst < cfg.instances; inst++) {
      // A fresh value after a restart: reusing a ballot with it would be caught.
      const value = { by: name, inst, v: Math.floor(random() * 1000), restart: restarts };
      proposed.get(inst)!.add(JSON.stringify(value));
      step(p, { type: 'propose', inst, value });
    }
    live.set(name, p);
  };

  const deliverOne = () => {
    const i = Math.floor(random() * net.length); // random pick: reordering
    const m = net[i]!;
    const dup = faults && random() < cfg.dupP;
    if (!dup) net.splice(i, 1);
    if (faults && random() < cfg.lossP) return;
    const target = live.get(m.to);
    if (target) run(m.to, step(target, { type: 'receive', from: m.from, msg: m.msg }));
  };

  for (let s = 0; s < cfg.faultSteps; s++) {
    const r = random();
    if (r < 0.08) {
      const name = pick(names);
      const p = live.get(name);
      if (p)
        run(name, step(p, { type: 'start_ballot', inst: Math.floor(random() * cfg.instances) }));
    } else if (r < 0.08 + cfg.crashP / 2) {
      // Targeted: crash a proposer in the middle of its phase 2 (its ballot is then in flight).
      const leaders = names.filter((n) =>
        [...(live.get(n)?.proposer.ballots.values() ?? [])].some((b) => b.phase === 'accept'),
      );
      if (leaders.length > 0) crash(pick(leaders));
    } else if (r < 0.08 + cfg.crashP) {
      const name = pick(names);
      if (live.has(name)) crash(name);
      else restart(name);
    } else if (r < 0.12 + cfg.crashP) {
      // A shell's mailbox ran empty: its leader announces the decisions no accept carried.
      const name = pick(names);
      const p = live.get(name);
      if (p) run(name, step(p, { type: 'flush' }));
    } else if (net.length > 0) deliverOne();
  }

  // Calm: faults stop, everyone restarts, one leader retries until all know every decision.
  faults = false;
  for (const name of names) if (!live.has(name)) restart(name);
  const leader = pick(names);
  const allKnow = () =>
    names.every(
      (n) =>
        learnedBy.get(n)!.size === cfg.instances || durable.get(n)!.decided.size === cfg.instances,
    );
  for (let s = 0; s < cfg.calmSteps; s++) {
    if (allKnow()) return { decided, learnedBy, messages, ballots, calmStepsUsed: s };
    if (net.length === 0) {
      for (const name of names) run(name, step(live.get(name)!, { type: 'flush' }));
      if (net.length > 0) continue;
      // The leader retries every instance (re-announcing the ones it knows).
      for (let inst = 0; inst < cfg.instances; inst++)
        run(leader, step(live.get(leader)!, { type: 'start_ballot', inst }));
    } else deliverOne();
  }
  return { decided, learnedBy, messages, ballots, calmStepsUsed: allKnow() ? cfg.calmSteps : -1 };
}

export type { Ballot };

export interface DuelConfig {
  seed: number;
  /** Participants that start ballots (at random steps, and at once after a restart). */
  proposers: readonly string[];
  /** Per step: a random participant crashes and restarts at once (durable state kept). */
  crashP: number;
  /** After a proposer's step leaves it in phase 2: it crashes and restarts with this chance. */
  phase2CrashP: number;
  steps: number;
  mutations?: ReadonlySet<PaxosMutation>;
  /** Multi-Paxos terms (default false). */
  terms?: boolean;
}

/**
 * Three participants duel over one instance: seeded random delivery order (reordering), no loss,
 * crashes anywhere and in phase 2 in particular; every life proposes a fresh value. Throws on
 * an agreement violation or a broken core invariant. Small and dense: a broken rule shows up in
 * a few hundred steps, where the wider `simulate` above spreads its faults thin.
 */
export function duel(cfg: DuelConfig): void {
  const random = seededRandom(cfg.seed);
  const names = ['a', 'b', 'c'];
  const disk = new Map<string, DurableState>(
    names.map((n) => [n, { records: new Map(), decided: new Map(), reservedRound: 0 }]),
  );
  const live = new Map<string, ParticipantState>();
  let net: InFlight[] = [];
  let chosen: string | undefined;
  let lives = 0;
  const run = (n: string, effects: Effect[]) => {
    const d = disk.get(n)!;
    for (const e of effects) {
      if (e.type === 'persist') d.records.set(e.inst, e.record);
      else if (e.type === 'persist_lead') d.lead = e.lead;
      else if (e.type === 'reserve') d.reservedRound = Math.max(d.reservedRound, e.round);
      else if (e.type === 'learn') {
        d.decided.set(e.inst, e.value);
        const v = JSON.stringify(e.value);
        if (chosen !== undefined && chosen !== v) throw new Error(`agreement: ${chosen} and ${v}`);
        chosen = v;
      } else if (e.type === 'send') net.push({ from: n, to: e.to, msg: e.msg });
      else if (e.type === 'broadcast')
        for (const to of names) net.push({ from: n, to, msg: e.msg });
    }
  };
  const boot = (n: string) => {
    const d = disk.get(n)!;
    const p = createParticipant(
      n,
      names,
      {
        records: new Map(d.records),
        decided: new Map(d.decided),
        reservedRound: d.reservedRound,
        lead: d.lead,
      },
      cfg.mutations,
      { terms: cfg.terms },
    );
    step(p, { type: 'propose', inst: 0, value: `${n}${lives++}` });
    live.set(n, p);
  };
  const restart = (n: string) => {
    net = net.filter((m) => m.to !== n); // messages to the crashed life are lost
    boot(n);
    if (cfg.proposers.includes(n)) run(n, step(live.get(n)!, { type: 'start_ballot', inst: 0 }));
  };
  for (const n of names) boot(n);
  for (let s = 0; s < cfg.steps; s++) {
    const r = random();
    const n = names[Math.floor(random() * names.length)]!;
    if (r < 0.1) {
      const q = cfg.proposers[Math.floor(random() * cfg.proposers.length)]!;
      run(q, step(live.get(q)!, { type: 'start_ballot', inst: 0 }));
    } else if (r < 0.1 + cfg.crashP) restart(n);
    else if (r < 0.14 + cfg.crashP) run(n, step(live.get(n)!, { type: 'flush' }));
    else if (net.length > 0) {
      const m = net.splice(Math.floor(random() * net.length), 1)[0]!;
      run(m.to, step(live.get(m.to)!, { type: 'receive', from: m.from, msg: m.msg }));
      const inPhase2 = [...live.get(m.to)!.proposer.ballots.values()].some(
        (b) => b.phase === 'accept',
      );
      if (cfg.proposers.includes(m.to) && inPhase2 && random() < cfg.phase2CrashP) restart(m.to);
    }
  }
}
