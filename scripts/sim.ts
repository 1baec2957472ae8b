// `npm run sim`: the deterministic simulation of the replicated inventory (apps/sim), or with
// --protocol epaxos of the EPaxos core (apps/sim/epaxos-sim.ts). One seed prints its metrics;
// --seeds N sweeps N seeds with a progress bar. On a violation it prints the seed, the violated
// invariant and the trace of the instance concerned, and exits 1.
import { readFileSync, writeFileSync } from 'node:fs';
import { EPAXOS_MUTATIONS } from '../apps/epaxos/replica.ts';
import { readTrace, replayTrace, type TraceFile } from '../apps/model/trace.ts';
import { serveView, traceHtml, traceView } from '../apps/model/view.ts';
import { formatFlushTiming, parseFlushTiming } from '../apps/sim/disk.ts';
import {
  DEFAULT_EPAXOS_SIM,
  type EpaxosSimMetrics,
  type EpaxosSimOptions,
  emptyEpaxosMetrics,
  simulateEpaxos,
} from '../apps/sim/epaxos-sim.ts';
import { type DelayDist, formatDelay, parseDelay } from '../apps/sim/network.ts';
import {
  type FaultEvent,
  formatFaultEvent,
  parseFaultEvent,
  parseSchedule,
  ScheduleError,
} from '../apps/sim/schedule.ts';
import {
  DEFAULT_SIM,
  emptyMetrics,
  type FaultOptions,
  SIM_MUTATIONS,
  type SimMetrics,
  type SimOptions,
  simulate,
} from '../apps/sim/simulator.ts';
import { cli } from './support/cli.ts';

/**
 * --replay: a model checker's trace, re-run through the same step functions; then exit. With
 * --view, also drawn as a sequence diagram (FILE.html), served on 127.0.0.1 until Ctrl-C.
 */
async function replayModelTrace(path: string, view: boolean): Promise<never> {
  let t: TraceFile;
  try {
    t = readTrace(path);
  } catch (err) {
    console.error(`--replay: ${(err as Error).message}`);
    process.exit(2);
  }
  if (t.protocol === 'paxos' && t.impl !== undefined) {
    console.error(
      `--replay: ${path} was found in ${t.impl}: replay it with npm run check:model -- --impl`,
    );
    process.exit(2);
  }
  const muts =
    t.options.mutations.length > 0 ? ` (mutation ${t.options.mutations.join(', ')})` : '';
  const what =
    t.protocol === 'paxos'
      ? `paxos, ${t.options.participants} participants${muts}`
      : `epaxos, ${t.options.replicas} replica${t.options.replicas === 1 ? '' : 's'}, ${t.options.commands} command${t.options.commands === 1 ? '' : 's'}${muts}`;
  console.log(`replay of ${path}: ${what}, ${t.steps.length} steps`);
  let r: ReturnType<typeof replayTrace>;
  try {
    r = replayTrace(t);
  } catch (err) {
    console.error(`--replay: ${(err as Error).message}`);
    process.exit(2);
  }
  for (const line of r.lines) console.log(line);
  console.log(r.violation === null ? 'no invariant broken' : `VIOLATION (${r.violation})`);
  const code = r.violation === null ? 0 : 1;
  if (!view) process.exit(code);
  const html = traceHtml(traceView(t, `${path}: ${what}`, r.violation));
  writeFileSync(`${path}.html`, html);
  const served = await serveView(html);
  console.log(`sequence diagram: ${path}.html, served on ${served.url} (Ctrl-C stops)`);
  const stop = () => void served.close().then(() => process.exit(code));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return await new Promise<never>(() => {});
}

const D = DEFAULT_SIM;
const HELP = `Usage: npm run sim -- [options]

Simulates N inventory replicas and clients in one process: each node runs the shipping cores,
the Paxos roles (apps/paxos: acceptor, proposer, learner, wired as the actors wire them) and the
replica (apps/rsm/core.ts: batching, forwarding, catch-up, chunked snapshots, compaction, gap
filling, retries) over the inventory state machine, in virtual time, with a seeded scheduler: message delay, loss, duplication and
reordering, partitions that heal, crashes (the process dies; committed writes survive) and
power losses (the machine dies; writes not yet flushed are lost), during --fault-ms; then
faults stop and every node restarts. Each node's disk commits a write at once and flushes it
later (--flush-ms; the writes of one turn flush together); a message that depends on a write
leaves only once the write is flushed, as in the actor shell. Checked at every step: agreement
per instance, validity (only submitted operations are decided), identical logs at every
replica, identical states at equal log positions, stock never negative, every replica computing the same result for an operation, no
acknowledged operation lost; and liveness: every operation acknowledged within --liveness-ms
after faults stop. Same seed, same run: the digest printed is equal for equal seeds and options.

With --protocol epaxos it simulates the EPaxos core instead (apps/epaxos/replica.ts, one replica
per node) under the same network, disks and faults: clients submit commands to random replicas,
some touching a hot key (so they interfere), and resubmit the same command elsewhere when their
replica goes down or nothing happens for a while. Checked at every step: an instance committed
with the same command and attributes everywhere, only submitted commands committed, interfering
commands executed in the same order at every replica, nothing executed before it is committed
here, no instance executed twice in one life of a replica; and liveness: every command executed
where it was last submitted within --liveness-ms after faults stop.

Options:
  --protocol NAME       paxos: the replicated inventory over Multi-Paxos (default); epaxos:
                        the EPaxos core (--batch, --snapshot-every, --random-proposer and
                        --paxos are Paxos's; --conflict, --checkpoint-every and --join-at are
                        EPaxos's)
  --seed N              the seed (default 1); with --seeds, the first of the sweep
  --seeds N             sweep N seeds (seed, seed+1, ...) with a progress bar
  --nodes N             replicas (default ${D.nodes})
  --ops N               client operations (default ${D.ops})
  --clients N           concurrent clients (default ${D.clients})
  --batch N             most operations per instance (default ${D.batchMax})
  --conflict P          epaxos: the probability a command touches the hot key (default ${DEFAULT_EPAXOS_SIM.conflict});
                        10% of the commands touch a second key
  --checkpoint-every N  epaxos: each replica checkpoints its state machine every N executions
                        and trims the records every replica's checkpoint covers (default
                        ${DEFAULT_EPAXOS_SIM.checkpointEvery}; 0: never)
  --join-at MS          epaxos: a replica joins at this virtual time (EPaxos.join's steps:
                        fence, drain, checkpoint, switch), or once every replica is up; a
                        crash while draining undoes it and it is tried again
  --snapshot-every N    each replica snapshots (and compacts) every N instances (default ${D.snapshotEvery})
  --reconfigs N         reconfigurations during the faults, one at a time, through the log
                        (addReplica/removeReplica): each adds a fresh replica (n<nodes+1>, ...),
                        which joins and catches up, or removes a member, which stops; members
                        stay between 2 and nodes + 1 (default ${D.reconfigs})
Network:
  --delay DIST          one-way message delay, virtual ms (default ${formatDelay(D.delay)}):
                          fixed:MS            always MS
                          uniform:MIN..MAX    uniform between MIN and MAX
                          exponential:MEAN    exponential with that mean
                          long-tail:MEAN      Pareto, shape 1.5, with that mean: infinite
                                              variance, a few messages take 100x the mean
  --delay-ms X          the same as --delay exponential:X
  --loss P              message loss probability during faults (default ${D.lossP})
  --dup P               message duplication probability during faults (default ${D.dupP})
Disk:
  --flush-ms MIN..MAX   how long one flush takes, virtual ms, drawn uniformly (or MS: always
                        that long; default ${formatFlushTiming(D.flush)})
Faults (random ones: mean events per virtual second of the fault phase, each lasting 20-220 ms):
  --fault-ms N          how long faults go on, virtual ms (default ${D.faultMs})
  --crash-rate R        process crashes of one node (default ${D.crashRate}; 0 with a schedule)
  --partition-rate R    random two-sided partitions (default ${D.partitionRate}; 0 with a schedule)
  --power-loss-rate R   power losses (default ${D.powerLossRate}; 0 with a schedule)
  --power-loss-nodes K  nodes one power loss takes down together (default ${D.powerLossNodes})
  --no-partitions       the same as --partition-rate 0
  --no-crashes          the same as --crash-rate 0
  --at EVENT            an explicit fault (repeatable), e.g. --at "500 crash n2 for 300":
                          MS crash NODE[,NODE...] [for MS]
                          MS power-loss NODE[,NODE...] [for MS]
                          MS partition A,B | C [| ...] [for MS]   (unnamed nodes: one more side)
                        without "for", the fault lasts until the fault phase ends
  --schedule FILE       explicit faults, one a line: "at 500 crash n2 for 300"; # comments
  --random-proposer X   duelling proposers during the fault phase: every 5 ms, with
                        probability X, a random up node starts a ballot for the lowest
                        instance it does not know decided (default 0)
  --paxos KIND          terms: Multi-Paxos, phase 1 once per leader term, as the replicated
                        services run it (default); classic: phase 1 for every instance
Checks:
  --liveness-ms N       bound for liveness after faults stop, virtual ms (default ${D.livenessMs})
  --mutate NAME         run a deliberately broken variant to watch a violation being caught:
                          amnesia             a crash loses the disk (try --nodes 3)
                          apply-accepted      a replica applies accepted, not decided, values
                          reply-before-flush  messages leave before the write they depend on
                                              is flushed (caught with power losses: try
                                              --nodes 3 --power-loss-rate 10
                                              --power-loss-nodes 2 --flush-ms 1..5)
                          and the Paxos roles' (apps/paxos/mutations.ts) and the
                          replica core's (apps/rsm/core.ts; ignore-missed: a replica
                          that missed the last decisions stays behind, try --seed 7;
                          apply-void: an old configuration's decisions after its stop
                          sign are applied, try --seed 4 --nodes 3 --ops 100
                          --reconfigs 6):
                          ${SIM_MUTATIONS.slice(3).join(', ')}
                        with --protocol epaxos, the EPaxos core's:
                          majority-fast-quorum   the fast path commits with a majority (differs
                                                 from the real fast quorum for 7 nodes or more;
                                                 caught when a partition hides a fast commit
                                                 from a recovery: try --nodes 7 --conflict 0.3
                                                 --flush-ms 5..20 --seeds 50 --at '200 partition
                                                 n1,n2,n3,n4 | n5,n6,n7 for 100' --at '300
                                                 partition n1,n3,n4 | n2,n5,n6,n7')
                          drop-dependency        one interfering instance left out of the
                                                 dependencies (try --nodes 3 --seeds 5)
                          execute-before-commit  a leader executes its command as it proposes
                          trim-own-checkpoint    records trimmed once the replica's own
                                                 checkpoint covers them, not every replica's
                                                 (try --nodes 3 --seeds 3)
  --bug NAME            the same as --mutate NAME
  --replay FILE         re-run a model checker's counterexample (npm run check:model
                        --trace-out FILE; Paxos or EPaxos, as the file says) step by step
                        through the same step functions, print it and the invariant it breaks
                        (exit 1 if it breaks one, else 0; 2 if the file cannot be replayed or
                        a step is not possible, naming the step); the other options do not apply
  --view                with --replay: draw the trace as a message sequence diagram (one lane
                        per participant or replica, one row per step), write it to FILE.html
                        and serve it on 127.0.0.1 until Ctrl-C
  --help                this text`;

const args = cli({
  usage: HELP,
  options: {
    seed: { type: 'string', default: '1' },
    seeds: { type: 'string' },
    nodes: { type: 'string', default: String(D.nodes) },
    ops: { type: 'string', default: String(D.ops) },
    clients: { type: 'string', default: String(D.clients) },
    delay: { type: 'string' },
    'delay-ms': { type: 'string' },
    loss: { type: 'string', default: String(D.lossP) },
    dup: { type: 'string', default: String(D.dupP) },
    'flush-ms': { type: 'string', default: formatFlushTiming(D.flush) },
    'fault-ms': { type: 'string', default: String(D.faultMs) },
    'crash-rate': { type: 'string' },
    'partition-rate': { type: 'string' },
    'power-loss-rate': { type: 'string' },
    'power-loss-nodes': { type: 'string', default: String(D.powerLossNodes) },
    'no-partitions': { type: 'boolean', default: false },
    'no-crashes': { type: 'boolean', default: false },
    at: { type: 'string', multiple: true },
    schedule: { type: 'string' },
    // Paxos's only: no default here, so that one given with --protocol epaxos is refused.
    'random-proposer': { type: 'string' },
    paxos: { type: 'string' },
    'liveness-ms': { type: 'string', default: String(D.livenessMs) },
    batch: { type: 'string' },
    'snapshot-every': { type: 'string' },
    reconfigs: { type: 'string' },
    mutate: { type: 'string' },
    bug: { type: 'string' },
    protocol: { type: 'string', default: 'paxos' },
    conflict: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    'join-at': { type: 'string' },
    replay: { type: 'string' },
    view: { type: 'boolean', default: false },
  },
});
const { values } = args;
if (values.view && values.replay === undefined)
  args.fail('--view draws a replayed trace: give --replay FILE');
if (values.replay !== undefined) await replayModelTrace(values.replay, values.view === true);

const nodes = args.int('nodes', { min: 1, max: 15 })!;
const names = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
const faultMs = args.int('fault-ms', { min: 0 })!;

function delayOption(): DelayDist {
  if (values.delay !== undefined && values['delay-ms'] !== undefined)
    args.fail('--delay and --delay-ms are the same option: give one');
  if (values['delay-ms'] !== undefined)
    return { kind: 'exponential', meanMs: args.number('delay-ms', { min: 0 })! };
  if (values.delay === undefined) return D.delay;
  try {
    return parseDelay(values.delay);
  } catch (err) {
    return args.fail(`--delay: ${(err as Error).message}`);
  }
}

function scheduleOption(): FaultEvent[] {
  const ctx = { names, faultMs };
  const events: FaultEvent[] = [];
  try {
    if (values.schedule !== undefined) {
      let text: string;
      try {
        text = readFileSync(values.schedule, 'utf8');
      } catch (err) {
        return args.fail(
          `--schedule: cannot read '${values.schedule}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        );
      }
      events.push(...parseSchedule(text, ctx, `--schedule ${values.schedule}`));
    }
    for (const at of values.at ?? []) {
      try {
        events.push(parseFaultEvent(at, ctx));
      } catch (err) {
        if (err instanceof ScheduleError) throw new ScheduleError(`--at: ${err.message}`);
        throw err;
      }
    }
  } catch (err) {
    if (err instanceof ScheduleError) args.fail(err.message);
    throw err;
  }
  return events;
}

const schedule = scheduleOption();
/** With an explicit schedule, random faults are off unless asked for. */
const rate = (flag: 'crash-rate' | 'partition-rate' | 'power-loss-rate', dflt: number) =>
  args.number(flag, { min: 0, max: 1000 }) ?? (schedule.length > 0 ? 0 : dflt);
const mutateFlag = values.mutate !== undefined ? 'mutate' : 'bug';
if (values.mutate !== undefined && values.bug !== undefined)
  args.fail('--bug is another name for --mutate: give one');
const flush = (() => {
  try {
    return parseFlushTiming(values['flush-ms']);
  } catch (err) {
    return args.fail(`--flush-ms: ${(err as Error).message}`);
  }
})();

/** The options both simulators take from the command line (`d`: the protocol's defaults). */
function faultOptions(d: Omit<FaultOptions, 'seed'>): Omit<FaultOptions, 'seed'> {
  return {
    nodes,
    ops: args.int('ops', { min: 1 })!,
    clients: args.int('clients', { min: 1 })!,
    delay: delayOption(),
    lossP: args.number('loss', { min: 0, max: 0.9 })!,
    dupP: args.number('dup', { min: 0, max: 0.9 })!,
    faultMs,
    crashRate: values['no-crashes'] ? 0 : rate('crash-rate', d.crashRate),
    partitionRate: values['no-partitions'] ? 0 : rate('partition-rate', d.partitionRate),
    powerLossRate: rate('power-loss-rate', d.powerLossRate),
    powerLossNodes: args.int('power-loss-nodes', { min: 1, max: nodes })!,
    flush,
    schedule,
    livenessMs: args.int('liveness-ms', { min: 1 })!,
  };
}

const protocol = args.choice('protocol', ['paxos', 'epaxos'] as const)!;
const PAXOS_ONLY = ['random-proposer', 'paxos', 'batch', 'snapshot-every', 'reconfigs'] as const;
if (protocol === 'epaxos') {
  for (const flag of PAXOS_ONLY)
    if (values[flag] !== undefined)
      args.fail(`--${flag} is a Paxos option: not with --protocol epaxos`);
  runEpaxos();
}
for (const flag of ['conflict', 'checkpoint-every', 'join-at'] as const)
  if (values[flag] !== undefined)
    args.fail(`--${flag} is an EPaxos option: give --protocol epaxos`);

const base: Omit<SimOptions, 'seed'> = {
  ...faultOptions(D),
  randomProposer: args.number('random-proposer', { min: 0, max: 1 }) ?? D.randomProposer,
  terms: (args.choice('paxos', ['terms', 'classic'] as const) ?? 'terms') !== 'classic',
  batchMax: args.int('batch', { min: 1 }) ?? D.batchMax,
  snapshotEvery: args.int('snapshot-every', { min: 1 }) ?? D.snapshotEvery,
  reconfigs: args.int('reconfigs', { min: 0, max: 100 }) ?? D.reconfigs,
  mutate: args.choice(mutateFlag, SIM_MUTATIONS),
};
const first = args.int('seed', { min: 0, max: 2 ** 32 - 1 })!;
const count = args.int('seeds', { min: 1 });

/**
 * A run's options in one line: `head` (protocol and its own), the shared ones with `clients`
 * (clients and what they do), the faults with `faults` (a protocol's own), and the mutation.
 */
function describeRun(
  o: Omit<FaultOptions, 'seed'>,
  head: string,
  clients: string,
  faults: Array<string | false>,
  mutate: string | undefined,
): string {
  const random = [
    o.crashRate > 0 && `crashes ${o.crashRate}/s`,
    o.partitionRate > 0 && `partitions ${o.partitionRate}/s`,
    o.powerLossRate > 0 &&
      `power losses ${o.powerLossRate}/s (${o.powerLossNodes} node${o.powerLossNodes > 1 ? 's' : ''} each)`,
    o.schedule.length > 0 && `${o.schedule.length} scheduled`,
    ...faults,
  ].filter(Boolean);
  return `${head} nodes=${o.nodes} ops=${o.ops} ${clients} delay=${formatDelay(o.delay)} loss=${o.lossP} dup=${o.dupP} flush=${formatFlushTiming(o.flush)} ms, faults for ${o.faultMs} ms (${random.join(', ') || 'no crashes, partitions or power losses'})${mutate ? ` MUTATION=${mutate}` : ''}`;
}

function describe(o: Omit<SimOptions, 'seed'>): string {
  return describeRun(
    o,
    `paxos=${o.terms ? 'terms' : 'classic'}`,
    `clients=${o.clients}`,
    [
      o.randomProposer > 0 && `random proposer ${o.randomProposer}`,
      o.reconfigs > 0 && `${o.reconfigs} reconfigurations`,
    ],
    o.mutate,
  );
}

function printMetrics(m: SimMetrics, perDecision = m.decisions || 1): void {
  console.log(
    `virtual time ${(m.virtualMs / 1000).toFixed(2)} s, ${m.events} events
operations: ${m.submitted} submitted, ${m.acknowledged} acknowledged, ${m.retries} client retries; latency p50 ${m.opLatencyP50} ms, p99 ${m.opLatencyP99} ms (virtual)
decisions: ${m.decisions} instances (${m.noops} no-ops), ${(m.messages / perDecision).toFixed(1)} messages and ${(m.ballots / perDecision).toFixed(2)} ballots per decision${m.randomBallots > 0 ? ` (${m.randomBallots} random ballots)` : ''}, latency p50 ${m.decisionLatencyP50} ms, p99 ${m.decisionLatencyP99} ms (virtual)
disk: ${m.diskWrites} writes in ${m.flushes} flushes (${(m.diskWrites / (m.flushes || 1)).toFixed(2)} writes per flush), ${m.lostWrites} committed writes lost to power losses before their flush
snapshots: ${m.snapshots} saved, ${m.snapshotsAdopted} adopted by a lagging replica (sent in chunks)${m.added + m.removed > 0 ? `\nreconfigurations: ${m.added} replicas added, ${m.removed} removed` : ''}
faults: ${m.dropped} messages dropped, ${m.duplicated} duplicated, ${m.partitions} partitions, ${m.crashes} crashes and ${m.powerLosses} power losses (node restarts follow); all acknowledged ${m.settleMs} ms (virtual) after faults stopped`,
  );
}

function report(seed: number, r: ReturnType<typeof simulate>): void {
  const v = r.violation!;
  console.log(`VIOLATION (${v.kind}) with seed ${seed}: ${v.message}`);
  console.log(`replay: npm run sim -- --seed ${seed} ${argsFor(base)}`);
  console.log(
    `trace${v.inst === undefined || Number.isNaN(v.inst) ? ' (last events)' : ` of instance ${v.inst}`}:`,
  );
  for (const line of v.trace) console.log(`  ${line}`);
}

type CommonOptions = Omit<FaultOptions, 'seed'>;

/**
 * The replay options both simulators share, in order (`clientArgs` after --clients,
 * `protocolArgs` before the explicit schedule, written as --at events).
 */
function commonArgs(o: CommonOptions, clientArgs: string[], protocolArgs: string[]): string[] {
  const parts = [
    `--nodes ${o.nodes}`,
    `--ops ${o.ops}`,
    `--clients ${o.clients}`,
    ...clientArgs,
    `--delay ${formatDelay(o.delay)}`,
    `--loss ${o.lossP}`,
    `--dup ${o.dupP}`,
    `--flush-ms ${formatFlushTiming(o.flush)}`,
    `--fault-ms ${o.faultMs}`,
    `--crash-rate ${o.crashRate}`,
    `--partition-rate ${o.partitionRate}`,
    `--power-loss-rate ${o.powerLossRate}`,
    `--power-loss-nodes ${o.powerLossNodes}`,
    `--liveness-ms ${o.livenessMs}`,
    ...protocolArgs,
  ];
  for (const e of o.schedule) parts.push(`--at '${formatFaultEvent(e).replace(/^at /, '')}'`);
  return parts;
}

/** The options that replay this run (an explicit schedule as --at events). */
function argsFor(o: Omit<SimOptions, 'seed'>): string {
  const parts = commonArgs(o, [], [`--batch ${o.batchMax}`, `--snapshot-every ${o.snapshotEvery}`]);
  if (o.randomProposer > 0) parts.push(`--random-proposer ${o.randomProposer}`);
  if (o.reconfigs > 0) parts.push(`--reconfigs ${o.reconfigs}`);
  if (!o.terms) parts.push('--paxos classic');
  if (o.mutate) parts.push(`--mutate ${o.mutate}`);
  return parts.join(' ');
}

runSeeds(first, count, {
  describe: describe(base),
  run: (seed) => simulate({ ...base, seed }),
  print: printMetrics,
  empty: emptyMetrics,
  report,
  invariants:
    'agreement, validity, identical logs and states, stock >= 0, same results, no acknowledged operation lost, liveness',
});

/**
 * One seed (its metrics, the invariants and the digest), or with `count` a sweep (the totals);
 * a violation is reported, exit 1. Exits.
 */
function runSeeds<M extends object, R extends { ok: boolean; metrics: M; digest: string }>(
  first: number,
  count: number | undefined,
  s: {
    describe: string;
    run: (seed: number) => R;
    print: (m: M) => void;
    empty: () => M;
    report: (seed: number, r: R) => void;
    invariants: string;
  },
): never {
  if (count === undefined) {
    const r = s.run(first);
    console.log(`sim seed=${first} ${s.describe}`);
    s.print(r.metrics);
    if (!r.ok) {
      s.report(first, r);
      process.exit(1);
    }
    console.log(`invariants: ${s.invariants}: OK`);
    console.log(`digest ${r.digest}`);
    process.exit(0);
  }
  const started = Date.now();
  console.log(`sim sweep: seeds ${first}..${first + count - 1}, ${s.describe}`);
  const total = sweep(first, count, s.run, s.empty(), s.report);
  console.log(
    `${count} seeds, 0 violations, ${((Date.now() - started) / 1000).toFixed(1)} s. Totals (latency and settle figures: the worst seed's):`,
  );
  s.print(total);
  process.exit(0);
}

/**
 * Runs `count` seeds from `first` with a progress bar on stderr and returns the metrics added
 * up (latency and settle figures: the worst seed's); on a violation `report` prints it, exit 1.
 */
function sweep<M extends object, R extends { ok: boolean; metrics: M }>(
  first: number,
  count: number,
  run: (seed: number) => R,
  total: M,
  report: (seed: number, r: R) => void,
): M {
  const started = Date.now();
  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  const draw = (done: number) => {
    const width = 30;
    const filled = Math.round((done / count) * width);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${count} seeds, ${((Date.now() - started) / 1000).toFixed(1)} s`;
    if (tty) process.stderr.write(`\r${line}`);
    else if (Date.now() - lastDraw > 2000 || done === count) {
      process.stderr.write(`${line}\n`);
      lastDraw = Date.now();
    }
  };
  const sum = total as unknown as Record<string, number>;
  for (let i = 0; i < count; i++) {
    const seed = first + i;
    const r = run(seed);
    const m = r.metrics as unknown as Record<string, number>;
    for (const k of Object.keys(sum)) {
      if (k.endsWith('P50') || k.endsWith('P99') || k === 'settleMs')
        sum[k] = Math.max(sum[k]!, m[k]!);
      else sum[k]! += m[k]!;
    }
    draw(i + 1);
    if (!r.ok) {
      if (tty) process.stderr.write('\n');
      report(seed, r);
      process.exit(1);
    }
  }
  if (tty) process.stderr.write('\n');
  return total;
}

// ---- --protocol epaxos ----

/** The EPaxos simulation's run: the options shared with Paxos's, and --conflict. Exits. */
function runEpaxos(): never {
  const E = DEFAULT_EPAXOS_SIM;
  const eb: Omit<EpaxosSimOptions, 'seed'> = {
    ...faultOptions(E),
    conflict: args.number('conflict', { min: 0, max: 1 }) ?? E.conflict,
    checkpointEvery: args.int('checkpoint-every', { min: 0 }) ?? E.checkpointEvery,
    joinAtMs: args.int('join-at', { min: 0 }),
    mutate: args.choice(mutateFlag, EPAXOS_MUTATIONS),
  };
  return runSeeds(args.int('seed', { min: 0, max: 2 ** 32 - 1 })!, args.int('seeds', { min: 1 }), {
    describe: describeEpaxos(eb),
    run: (seed) => simulateEpaxos({ ...eb, seed }),
    print: printEpaxosMetrics,
    empty: emptyEpaxosMetrics,
    report: (seed, r) => reportEpaxos(eb, seed, r),
    invariants:
      'committed (one command and attributes per instance), validity, order (interfering commands alike everywhere), executed only once committed, once per instance, checkpoint (the snapshot holds exactly what it says is executed), liveness',
  });
}

function describeEpaxos(o: Omit<EpaxosSimOptions, 'seed'>): string {
  return describeRun(
    o,
    'protocol=epaxos',
    `clients=${o.clients} conflict=${o.conflict} checkpoint-every=${o.checkpointEvery}${o.joinAtMs === undefined ? '' : ` join-at=${o.joinAtMs}`}`,
    [],
    o.mutate,
  );
}

function printEpaxosMetrics(m: EpaxosSimMetrics): void {
  console.log(
    `virtual time ${(m.virtualMs / 1000).toFixed(2)} s, ${m.events} events
commands: ${m.submitted} submitted, ${m.executed} executed where submitted, ${m.retries} client retries (${m.duplicateExecutions} executions of a retried command skipped as duplicates); execution latency p50 ${m.latencyP50} ms, p99 ${m.latencyP99} ms (virtual)
instances: ${m.committed} committed, ${m.fastPath} on the fast path, ${m.slowPath} on the slow path (Accept), ${m.noops} no-ops; ${m.recoveries} recoveries (prepare phases started); ${(m.messages / (m.submitted || 1)).toFixed(1)} messages per command
checkpoints: ${m.checkpoints} written, ${m.trimmed} records trimmed after them, ${m.restored} restarts restored one; ${m.joins} replicas joined (${m.joinsUndone} joins undone by a crash)
disk: ${m.diskWrites} writes in ${m.flushes} flushes (${(m.diskWrites / (m.flushes || 1)).toFixed(2)} writes per flush), ${m.lostWrites} committed writes lost to power losses before their flush
faults: ${m.dropped} messages dropped, ${m.duplicated} duplicated, ${m.partitions} partitions, ${m.crashes} crashes and ${m.powerLosses} power losses (node restarts follow); all executed ${m.settleMs} ms (virtual) after faults stopped`,
  );
}

function reportEpaxos(
  o: Omit<EpaxosSimOptions, 'seed'>,
  seed: number,
  r: ReturnType<typeof simulateEpaxos>,
): void {
  const v = r.violation!;
  console.log(`VIOLATION (${v.kind}) with seed ${seed}: ${v.message}`);
  const parts = [
    '--protocol epaxos',
    `--seed ${seed}`,
    ...commonArgs(
      o,
      [
        `--conflict ${o.conflict}`,
        `--checkpoint-every ${o.checkpointEvery}`,
        ...(o.joinAtMs === undefined ? [] : [`--join-at ${o.joinAtMs}`]),
      ],
      [],
    ),
  ];
  if (o.mutate) parts.push(`--mutate ${o.mutate}`);
  console.log(`replay: npm run sim -- ${parts.join(' ')}`);
  console.log(
    `trace${v.inst !== undefined ? ` of instance ${v.inst}` : v.kind === 'order' ? ' of the commands concerned' : ' (last events)'}:`,
  );
  for (const line of v.trace) console.log(`  ${line}`);
}
