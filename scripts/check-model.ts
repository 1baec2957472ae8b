// `npm run check:model`: exhaustive, breadth-first model checking of the Paxos core (the real step
// function, apps/paxos/core.ts, or a student's core on the same interface), or of the EPaxos core
// (apps/epaxos/replica.ts), within bounds; the shortest counterexample in words and as a trace
// file that `npm run sim -- --replay` re-runs (and draws with --view).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EPAXOS_MUTATIONS } from '../apps/epaxos/replica.ts';
import { DEFAULT_EPAXOS_MODEL, epaxosModel } from '../apps/model/epaxos-model.ts';
import { explore, type Progress, within } from '../apps/model/explore.ts';
import { exploreMerged, type MergedProgress } from '../apps/model/merged.ts';
import { autoWorkers, exploreMergedParallel } from '../apps/model/parallel.ts';
import {
  DEFAULT_PAXOS_MODEL as D,
  type PaxosCore,
  type PaxosModelOptions,
  paxosModel,
  SHIPPING_CORE,
} from '../apps/model/paxos-model.ts';
import {
  DEFAULT_RSM_MODEL,
  RSM_MODEL_MUTATIONS,
  type RsmModelOptions,
  rsmModel,
} from '../apps/model/rsm-model.ts';
import {
  type EpaxosTraceFile,
  readTrace,
  type TraceFile,
  writeTrace,
} from '../apps/model/trace.ts';
import { PAXOS_MUTATIONS } from '../apps/paxos/mutations.ts';
import { cli } from './support/cli.ts';

/** Where a counterexample goes without --trace-out. */
const TRACE_OUT = 'model-trace.json';
const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;

/** Reads --within's trace, or fails with a usage error naming what is wrong with it. */
function readGuide(path: string): TraceFile {
  try {
    return readTrace(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? `no file ${path}`
        : err instanceof SyntaxError
          ? `${path} is not JSON (${e.message})`
          : e.message;
    return args.fail(`--within: ${why}`);
  }
}

const HELP = `Usage: npm run check:model -- [options]

Explores every reachable state of single-decree Paxos (instance 0) for a small cluster, breadth
first, on the real step function (apps/paxos/core.ts: the acceptor, proposer and learner roles
as the simulator and the actors run them). A state is every participant's core state and disk,
the network and the budgets used; each distinct state is explored once (64-bit hash of a
canonical encoding). Transitions: a participant starts a ballot (the first start of each life
proposes a value), a message is delivered to its participant, a participant crashes and
restarts from its disk; with --network multiset also a message is duplicated or lost. Checked on
every transition: agreement (no two participants decide different values), validity (a decided
value was proposed), decided-never-changes (a participant's decision, on disk, never changes),
ballot monotonicity (an acceptor's promise on disk never goes down), and the core's own
assertions (a step that throws). A violation prints the shortest trace (breadth first) in words
and writes it as JSON (--trace-out) for \`npm run sim -- --replay FILE\`.

With the set network, Paxos is searched by merging networks (--search merged, the default):
one entry per combination of participant states and budgets, holding the union of the networks
of every path that reached it, explored again whenever that union grows. It covers every
reachable state (a sound over-approximation: no violation there means none anywhere) in far
fewer entries. A violation it finds is only possible, so the exact breadth-first search then
runs to confirm it and to give the shortest real trace. --search exact runs that search alone.

Options:
  --protocol NAME     paxos (default), or epaxos: the EPaxos core (apps/epaxos/replica.ts),
                      --participants replicas, --values commands all on one key (every two
                      interfere), --timers timer firings (resends, recoveries) in a run,
                      --crashes; checked: one command and attributes per instance, execution
                      only once committed, interfering commands in one order in every life;
                      mutations ${EPAXOS_MUTATIONS.join(', ')}
                      or rsm: the replicated log (apps/rsm/core.ts) over an append machine,
                      --participants replicas, --ops client operations, --timers clock jumps
                      and proposal or catch-up timeouts, --crashes; consensus abstracted (each
                      instance decides one of the values proposed for it, for ever: Paxos is
                      checked on its own); checked: each replica applies the decided log in
                      order, its state is that log's operations once each, only submitted
                      operations are proposed, every reply is the answer after its operation in
                      the decided order; mutations ${RSM_MODEL_MUTATIONS.join(', ')}
  --ops N             rsm: client operations o1..oN, each submitted once to any replica
                      (default ${DEFAULT_RSM_MODEL.ops})
  --timers N          epaxos: timer firings in a run, over all replicas (default ${DEFAULT_EPAXOS_MODEL.timers});
                      rsm: clock jumps (then a tick), proposal and catch-up timeouts (default ${DEFAULT_RSM_MODEL.timers})
  --participants N    participants p1..pN (default ${D.participants}; epaxos: ${DEFAULT_EPAXOS_MODEL.replicas} replicas; rsm: ${DEFAULT_RSM_MODEL.replicas})
  --values N          distinct values that may be proposed, A, B, ... (default ${D.values}; epaxos:
                      commands, default ${DEFAULT_EPAXOS_MODEL.commands})
  --ballots N         paxos: start_ballot events in a run, over all participants (default ${D.ballots})
  --crashes N         crash-and-restart events in a run (default ${D.crashes}; epaxos: ${DEFAULT_EPAXOS_MODEL.crashes}; rsm: ${DEFAULT_RSM_MODEL.crashes})
  --network KIND      set: every message sent stays deliverable (covers any loss, any number
                      of duplicates and any order at once; default); multiset: a delivery
                      consumes the message, with --dup and --loss as bounds
  --dup N             multiset: duplicate deliveries in a run (default ${D.dup})
  --loss N            multiset: messages lost in a run (default: any number)
  --no-loss           multiset: no message is lost (the same as --loss 0)
  --mutate NAME       check a deliberately broken core (apps/paxos/mutations.ts):
                        ${PAXOS_MUTATIONS.join(', ')}
                      (none: the real core, e.g. to run a --within trace's steps without
                      the mutation it was written for)
  --within FILE       search only the steps of a trace file (--trace-out's format: a
                      counterexample, or a scenario written by hand), each any number of
                      times, in any order, or not at all, on the trace's protocol, options
                      and core (--mutate may change its mutation). A violation is the
                      shortest one those steps make; none means none of their orders breaks
                      an invariant. For a scenario too large to search whole (EPaxos at 7
                      replicas: README, model checking)
  --no-view           intern whole participant states, not the core's modelView (a core may
                      export modelView(state): the state with what cannot change its steps
                      set to one fixed value; the shipping core's forgets a ballot's promises
                      after phase 1, its acceptances after phase 2, and rounds its proposer
                      already knows; test/model/model-view.test.ts checks it is exact)
  --no-symmetry       merged search: keep both of two configurations that differ by swapping
                      the values A and B (by default one is kept once both were proposed: the
                      roles compare values only for equality, so the swap maps runs to runs)
  --order KIND        merged search: rank (default) explores a configuration after those that
                      lead to it, as far as the steps found so far tell, so about once; fifo
                      (first in, first out) explores it again each time its network grows;
                      both cover every reachable state
  --workers N|auto    merged search: N threads (auto: one per core; default 1), each owning
                      the configurations whose hash falls to it and sending the others the
                      steps that reach theirs; they cover exactly what one thread covers
  --impl PATH         check another core with the same interface (exports createParticipant
                      and step, as apps/paxos/core.ts; template: examples/student-paxos/core.ts)
  --search KIND       paxos with the set network: merged (default) or exact (see above); the
                      multiset network is always searched exactly
  --max-states N      stop cleanly after N distinct states (default: no bound)
  --max-seconds S     stop cleanly after S seconds (default: no bound)
  --max-memory-mb N   stop cleanly once the heap holds N MB (default: 80% of Node's heap limit,
                      so that a search too large for memory stops with what it covered)
  --trace-out FILE    paxos, epaxos: where to write a counterexample (default ${TRACE_OUT})
  --quiet             no progress lines
  --help              this text

Progress goes to stderr every 2 s (states, states/s, frontier, depth, heap). Exit code: 0 no
violation (every state explored, or stopped at a bound: the output says which), 1 a violation,
2 a usage error.`;

const args = cli({
  usage: HELP,
  options: {
    protocol: { type: 'string' },
    within: { type: 'string' },
    ops: { type: 'string' },
    timers: { type: 'string' },
    participants: { type: 'string' },
    values: { type: 'string' },
    ballots: { type: 'string' },
    crashes: { type: 'string' },
    network: { type: 'string' },
    dup: { type: 'string' },
    loss: { type: 'string' },
    'no-loss': { type: 'boolean', default: false },
    'no-view': { type: 'boolean', default: false },
    'no-symmetry': { type: 'boolean', default: false },
    order: { type: 'string' },
    workers: { type: 'string' },
    mutate: { type: 'string' },
    impl: { type: 'string' },
    'max-states': { type: 'string' },
    'max-seconds': { type: 'string' },
    'max-memory-mb': { type: 'string' },
    'trace-out': { type: 'string' },
    search: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const { values } = args;

/** --within FILE: the trace whose steps alone are searched (its model options with it). */
const guide = values.within !== undefined ? readGuide(values.within) : undefined;
const protocol =
  args.choice('protocol', ['paxos', 'epaxos', 'rsm'] as const) ?? guide?.protocol ?? 'paxos';
if (guide && guide.protocol !== protocol)
  args.fail(
    `--within ${values.within} is a trace of ${guide.protocol}: not with --protocol ${protocol}`,
  );
if (guide) {
  for (const flag of [
    'participants',
    'values',
    'ballots',
    'timers',
    'crashes',
    'network',
    'dup',
    'loss',
    'impl',
  ] as const)
    if (values[flag] !== undefined)
      args.fail(`--${flag}: with --within the model is the trace's (its options and core)`);
  if (values['no-loss'])
    args.fail("--no-loss: with --within the model is the trace's (its options and core)");
  for (const flag of ['search', 'order', 'workers'] as const)
    if (values[flag] !== undefined)
      args.fail(`--${flag}: --within searches exactly (breadth first, within the trace's steps)`);
}
/** The mutations to check: --mutate's (none: the real core), else the trace's with --within. */
function mutationsOf<M extends string>(
  mutate: M | 'none' | undefined,
  fromTrace: readonly M[] = [],
): M[] {
  if (mutate === 'none') return [];
  return mutate !== undefined ? [mutate] : [...fromTrace];
}
const withinWords = guide
  ? `; within the ${plural(guide.steps.length, 'step')} of ${values.within} (each any number of times, in any order, or not at all)`
  : '';
const shortest = guide ? `a shortest trace made of ${values.within}'s steps` : 'a shortest trace';
const reached = guide ? 'every state those steps reach' : 'every reachable state';
const BOUND_FLAG = {
  states: '--max-states',
  seconds: '--max-seconds',
  memory: '--max-memory-mb',
} as const;
const fmt = (n: number) => n.toLocaleString('en-US');
const progress = values.quiet
  ? {}
  : {
      onProgress: (p: Progress) =>
        console.error(
          `  ${fmt(p.states)} states (${fmt(Math.round(p.statesPerSec))}/s), frontier ${fmt(p.frontier)}, depth ${p.depth}, ${(p.elapsedMs / 1000).toFixed(0)} s, heap ${p.heapMb.toFixed(0)} MB`,
        ),
    };
const maxStates = args.int('max-states', { min: 1 });
const maxSeconds = args.number('max-seconds', { above: 0 });
const maxHeapMb = args.int('max-memory-mb', { min: 16 });
/** The search's bounds, as every protocol's search takes them. */
const bounds = {
  ...(maxStates !== undefined ? { maxStates } : {}),
  ...(maxSeconds !== undefined ? { maxSeconds } : {}),
  ...(maxHeapMb !== undefined ? { maxHeapMb } : {}),
};
if (protocol === 'epaxos') checkEpaxos();
if (protocol === 'rsm') checkRsm();
if (values.ops !== undefined) args.fail('--ops is an rsm option: give --protocol rsm');
const search = args.choice('search', ['merged', 'exact'] as const);
if (values.timers !== undefined)
  args.fail('--timers is an EPaxos and rsm option: give --protocol epaxos or rsm');
/** The Paxos trace given with --within, if any. */
const pg = guide?.protocol === 'paxos' ? guide : undefined;
const network =
  pg?.options.network ?? args.choice('network', ['set', 'multiset'] as const) ?? D.network;
if (
  network === 'set' &&
  (values.dup !== undefined || values.loss !== undefined || values['no-loss'])
)
  args.fail('--dup, --loss and --no-loss bound the multiset network: add --network multiset');
if (values.loss !== undefined && values['no-loss']) args.fail('--loss and --no-loss: give one');
if (search === 'merged' && network === 'multiset')
  args.fail('--search merged needs the set network (it merges networks that only grow)');
const order = args.choice('order', ['rank', 'fifo'] as const);
if (order !== undefined && (search === 'exact' || network === 'multiset'))
  args.fail('--order orders the merged search: not with --search exact or --network multiset');
const workers =
  values.workers === 'auto' ? autoWorkers() : (args.int('workers', { min: 1, max: 64 }) ?? 1);
if (values.workers !== undefined && (search === 'exact' || network === 'multiset'))
  args.fail(
    '--workers runs the merged search in threads: not with --search exact or --network multiset',
  );
const mutations = mutationsOf(
  args.choice('mutate', [...PAXOS_MUTATIONS, 'none'] as const),
  pg?.options.mutations,
);
const mutation = mutations[0];
const options: PaxosModelOptions = pg
  ? {
      ...pg.options,
      loss: pg.options.loss ?? Number.POSITIVE_INFINITY,
      mutations,
      network,
      view: !values['no-view'],
      symmetry: !values['no-symmetry'],
    }
  : {
      participants: args.int('participants', { min: 1, max: 7 }) ?? D.participants,
      values: args.int('values', { min: 1, max: 10 }) ?? D.values,
      ballots: args.int('ballots', { min: 0, max: 20 }) ?? D.ballots,
      crashes: args.int('crashes', { min: 0, max: 20 }) ?? D.crashes,
      dup: args.int('dup', { min: 0, max: 20 }) ?? D.dup,
      loss: values['no-loss'] ? 0 : (args.int('loss', { min: 0 }) ?? Number.POSITIVE_INFINITY),
      mutations,
      network,
      view: !values['no-view'],
      symmetry: !values['no-symmetry'],
    };

async function loadCore(path: string): Promise<PaxosCore> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (err) {
    return args.fail(`--impl ${path}: cannot load it (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof mod.createParticipant !== 'function' || typeof mod.step !== 'function')
    args.fail(
      `--impl ${path} does not export createParticipant(me, participants, durable) and step(state, event)`,
    );
  return mod as unknown as PaxosCore;
}

/** The core's module when not the shipping one: --impl's, or the one --within's trace was found in. */
const implPath = values.impl ?? pg?.impl;
const core = implPath !== undefined ? await loadCore(implPath) : undefined;
const model = paxosModel({ ...options, ...(core ? { core } : {}) });
const netWords =
  network === 'set'
    ? 'network: set (any loss, duplication, order)'
    : `network: multiset (${plural(options.dup, 'duplicate')}, ${options.loss === Number.POSITIVE_INFINITY ? 'any loss' : plural(options.loss, 'loss').replace('losss', 'losses')})`;
console.log(
  `model check: paxos, core ${implPath ?? 'apps/paxos/core.ts'}${mutation ? ` (mutation ${mutation})` : ''}; ${plural(options.participants, 'participant')}, ${plural(options.values, 'value')}, ${plural(options.ballots, 'ballot')}, ${plural(options.crashes, 'crash').replace('crashs', 'crashes')}; ${netWords}; states: ${options.view && (core ?? SHIPPING_CORE).modelView ? "the core's modelView" : 'whole'}${maxStates ? `; at most ${fmt(maxStates)} states` : ''}${maxSeconds ? `; at most ${maxSeconds} s` : ''}`,
);

/** Set when the merged search found a possible violation that the exact search now checks. */
let confirming = false;
if (!pg && (search ?? (network === 'set' ? 'merged' : 'exact')) === 'merged')
  confirming = await searchMerged();
else console.log(`search: exact (every state, breadth first)${withinWords}`);
const result = explore(pg ? within(model, pg.steps, model.stepKey) : model, {
  ...bounds,
  ...progress,
});
const secs = (result.elapsedMs / 1000).toFixed(1);
const s = model.stats();
const inside = `${fmt(s.nodeStates)} participant states, ${fmt(s.nodeSteps)} distinct core steps`;
switch (result.kind) {
  case 'clean':
    console.log(
      `result: no violation; ${reached} explored: ${fmt(result.states)} states, ${fmt(result.transitions)} transitions, depth ${result.depth}, ${secs} s (${inside})${confirming ? ': the merged search took a step no real run takes' : ''}`,
    );
    process.exit(0);
    break;
  case 'bound':
    console.log(
      `result: no violation so far; stopped at the bound (${BOUND_FLAG[result.bound]}): ${fmt(result.states)} states, depth ${result.depth} fully explored, ${fmt(result.transitions)} transitions, ${secs} s (${inside})`,
    );
    if (confirming) {
      console.log(
        "the merged search's possible violation is neither confirmed nor ruled out within the bounds",
      );
      process.exit(1);
    }
    process.exit(0);
    break;
  case 'violation': {
    console.log(
      `VIOLATION (${result.violation}) after ${plural(result.trace.length, 'step')} (${shortest}), found after ${fmt(result.states)} states, ${secs} s:`,
    );
    let g = model.initial();
    result.trace.forEach((step, i) => {
      console.log(`${String(i + 1).padStart(3)}. ${model.describe(g, step)}`);
      const key = model.stepKey(step);
      g = model.successors(g).find((x) => model.stepKey(x.step) === key)!.next;
    });
    const out = values['trace-out'] ?? TRACE_OUT;
    writeTrace(out, {
      protocol: 'paxos',
      ...(implPath !== undefined ? { impl: implPath } : {}),
      options: {
        ...options,
        loss: options.loss === Number.POSITIVE_INFINITY ? null : options.loss,
      },
      violation: result.violation,
      steps: result.trace,
    });
    console.log(`trace written to ${out} (replay: npm run sim -- --replay ${out})`);
    process.exit(1);
  }
}

/**
 * The merged-network search (apps/model/merged.ts). Exits when it settles the question: no
 * violation anywhere, or a bound. A possible violation returns, for the exact search to confirm.
 */
async function searchMerged(): Promise<true> {
  console.log(
    `search: merged networks (one entry per combination of participant states and budgets, with the union of its networks: covers every reachable state)${workers > 1 ? `; ${workers} worker threads` : ''}`,
  );
  const ghostOptions: PaxosModelOptions = { ...options, ghostSends: true };
  const searchOptions = {
    ...bounds,
    ...(order ? { order } : {}),
    ...(values.quiet
      ? {}
      : {
          onProgress: (p: MergedProgress) =>
            console.error(
              `  ${fmt(p.configurations)} configurations, ${fmt(p.expansions)} explored (${fmt(Math.round(p.perSec))}/s), ${fmt(p.queued)} queued, ${(p.elapsedMs / 1000).toFixed(0)} s, memory ${p.heapMb.toFixed(0)} MB`,
            ),
        }),
  };
  let inside: string;
  let r: Awaited<ReturnType<typeof exploreMergedParallel>> | ReturnType<typeof exploreMerged>;
  if (workers > 1) {
    r = await exploreMergedParallel(
      {
        module: new URL('../apps/model/paxos-model.ts', import.meta.url).href,
        name: 'paxosMergedSpace',
        args: {
          options: ghostOptions,
          ...(values.impl !== undefined ? { impl: values.impl } : {}),
        },
      },
      { ...searchOptions, workers },
    );
    const w = r.workers;
    inside = `${workers} workers: ${w.map((x) => fmt(x.configurations)).join(' + ')} configurations; up to ${fmt(Math.max(...w.map((x) => x.nodeStates)))} participant states in a worker; ${fmt(w.reduce((n, x) => n + x.nodeSteps, 0))} core steps taken in all, each sent to the other workers`;
  } else {
    const ghost = paxosModel({ ...ghostOptions, ...(core ? { core } : {}) });
    r = exploreMerged(ghost.mergedSpace(), searchOptions);
    const st = ghost.mergedSpace().stats();
    inside = `${fmt(st.nodeStates)} participant states, ${fmt(st.nodeSteps)} distinct core steps`;
  }
  const secs = (r.elapsedMs / 1000).toFixed(1);
  const fell = order !== 'fifo' && r.order === 'fifo';
  const covered = `${fmt(r.configurations)} configurations, ${fmt(r.expansions)} explorations, ${fmt(r.transitions)} transitions, at most ${fmt(r.messages)} messages in a network, ${secs} s (${inside}${fell ? '; explored first in first out: a receipt can bring a participant state back, so ranks cannot order the search' : ''})`;
  switch (r.kind) {
    case 'clean':
      console.log(`result: no violation; every reachable state covered: ${covered}`);
      process.exit(0);
      break;
    case 'bound':
      console.log(
        `result: no violation so far; stopped at the bound (${BOUND_FLAG[r.bound]}), not every state covered: ${covered}`,
      );
      process.exit(0);
      break;
    case 'possible':
      console.log(
        `possible violation in the merged search (${r.violation}) after ${covered}; the exact search confirms it and finds a shortest trace:`,
      );
  }
  return true;
}

/** --protocol epaxos: the EPaxos core's model (apps/model/epaxos-model.ts). Exits. */
function checkEpaxos(): never {
  for (const flag of ['dup', 'loss', 'impl', 'search', 'order', 'workers'] as const)
    if (values[flag] !== undefined)
      args.fail(`--${flag} is a Paxos option: not with --protocol epaxos`);
  for (const flag of ['no-loss', 'no-view', 'no-symmetry'] as const)
    if (values[flag]) args.fail(`--${flag} is a Paxos option: not with --protocol epaxos`);
  if (values.ops !== undefined) args.fail('--ops is an rsm option: not with --protocol epaxos');
  const E = DEFAULT_EPAXOS_MODEL;
  const eg = guide?.protocol === 'epaxos' ? guide : undefined;
  const mutations = mutationsOf(
    args.choice('mutate', [...EPAXOS_MUTATIONS, 'none'] as const),
    eg?.options.mutations,
  );
  const mutate = mutations[0];
  const o: EpaxosTraceFile['options'] = eg
    ? { ...eg.options, mutations }
    : {
        replicas: args.int('participants', { min: 1, max: 7 }) ?? E.replicas,
        commands: args.int('values', { min: 1, max: 10 }) ?? E.commands,
        timers: args.int('timers', { min: 0, max: 20 }) ?? E.timers,
        crashes: args.int('crashes', { min: 0, max: 20 }) ?? E.crashes,
        mutations,
      };
  console.log(
    `model check: epaxos, core apps/epaxos/replica.ts${mutate ? ` (mutation ${mutate})` : ''}; ${plural(o.replicas, 'replica')}, ${plural(o.commands, 'command')} on one key, ${plural(o.timers, 'timer firing')}, ${plural(o.crashes, 'crash').replace('crashs', 'crashes')}; network: set (any loss, duplication, order)${withinWords}${maxStates ? `; at most ${fmt(maxStates)} states` : ''}${maxSeconds ? `; at most ${maxSeconds} s` : ''}`,
  );
  const model = epaxosModel(o);
  const r = explore(eg ? within(model, eg.steps, model.stepKey) : model, {
    ...bounds,
    ...progress,
  });
  const secs = (r.elapsedMs / 1000).toFixed(1);
  if (r.kind === 'clean') {
    console.log(
      `result: no violation; ${reached} explored: ${fmt(r.states)} states, ${fmt(r.transitions)} transitions, depth ${r.depth}, ${secs} s`,
    );
    process.exit(0);
  }
  if (r.kind === 'bound') {
    console.log(
      `result: no violation so far; stopped at the bound (${BOUND_FLAG[r.bound]}): ${fmt(r.states)} states, depth ${r.depth} fully explored, ${fmt(r.transitions)} transitions, ${secs} s`,
    );
    process.exit(0);
  }
  console.log(
    `VIOLATION (${r.violation}) after ${plural(r.trace.length, 'step')} (${shortest}), found after ${fmt(r.states)} states, ${secs} s:`,
  );
  for (const [i, step] of r.trace.entries())
    console.log(`${String(i + 1).padStart(3)}. ${model.describe(step)}`);
  const out = values['trace-out'] ?? TRACE_OUT;
  writeTrace(out, { protocol: 'epaxos', options: o, violation: r.violation, steps: r.trace });
  console.log(`trace written to ${out} (replay: npm run sim -- --replay ${out})`);
  process.exit(1);
}

/** --protocol rsm: the replicated log's model (apps/model/rsm-model.ts). Exits. */
function checkRsm(): never {
  for (const flag of [
    'values',
    'ballots',
    'network',
    'dup',
    'loss',
    'impl',
    'trace-out',
    'search',
    'order',
    'workers',
  ] as const)
    if (values[flag] !== undefined)
      args.fail(`--${flag} is not an rsm option (rsm: --participants, --ops, --timers, --crashes)`);
  for (const flag of ['no-loss', 'no-view', 'no-symmetry'] as const)
    if (values[flag])
      args.fail(`--${flag} is not an rsm option (rsm: --participants, --ops, --timers, --crashes)`);
  const R = DEFAULT_RSM_MODEL;
  const mutations = mutationsOf(args.choice('mutate', [...RSM_MODEL_MUTATIONS, 'none'] as const));
  const mutate = mutations[0];
  const o: RsmModelOptions = {
    replicas: args.int('participants', { min: 1, max: 5 }) ?? R.replicas,
    ops: args.int('ops', { min: 1, max: 5 }) ?? R.ops,
    timers: args.int('timers', { min: 0, max: 20 }) ?? R.timers,
    crashes: args.int('crashes', { min: 0, max: 20 }) ?? R.crashes,
    mutations,
  };
  console.log(
    `model check: rsm, core apps/rsm/core.ts${mutate ? ` (mutation ${mutate})` : ''} over an append machine; ${plural(o.replicas, 'replica')}, ${plural(o.ops, 'client operation')}, ${plural(o.timers, 'timeout')}, ${plural(o.crashes, 'crash').replace('crashs', 'crashes')}; consensus: one proposed value per instance; network: set (any loss, duplication, order)${maxStates ? `; at most ${fmt(maxStates)} states` : ''}${maxSeconds ? `; at most ${maxSeconds} s` : ''}`,
  );
  const model = rsmModel(o);
  const r = explore(model, {
    ...bounds,
    ...progress,
  });
  const secs = (r.elapsedMs / 1000).toFixed(1);
  const st = model.stats();
  const inside = `${fmt(st.nodeStates)} replica states, ${fmt(st.nodeSteps)} distinct core steps`;
  if (r.kind === 'clean') {
    console.log(
      `result: no violation; every reachable state explored: ${fmt(r.states)} states, ${fmt(r.transitions)} transitions, depth ${r.depth}, ${secs} s (${inside})`,
    );
    process.exit(0);
  }
  if (r.kind === 'bound') {
    console.log(
      `result: no violation so far; stopped at the bound (${BOUND_FLAG[r.bound]}): ${fmt(r.states)} states, depth ${r.depth} fully explored, ${fmt(r.transitions)} transitions, ${secs} s (${inside})`,
    );
    process.exit(0);
  }
  console.log(
    `VIOLATION (${r.violation}) after ${plural(r.trace.length, 'step')} (a shortest trace), found after ${fmt(r.states)} states, ${secs} s:`,
  );
  let g = model.initial();
  r.trace.forEach((step, i) => {
    console.log(`${String(i + 1).padStart(3)}. ${model.describe(g, step)}`);
    const key = model.stepKey(step);
    g = model.successors(g).find((x) => model.stepKey(x.step) === key)!.next;
  });
  console.log(
    '(rsm traces are printed only: --trace-out and sim --replay are for Paxos and EPaxos)',
  );
  process.exit(1);
}
