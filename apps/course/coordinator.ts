// The coursework harness's coordinator: registers `coord`, starts one test process per
// participant (locally, or each on its own node process), runs the protocol, judges the run.
// The implementation under test is any module loadImpl accepts (default: this project's Paxos).
import { fileURLToPath } from 'node:url';
import { Global, type Pid, receive, self, send, spawn, TIMEOUT } from '../../actors/index.ts';
import { seededRandom } from '../../transport/faults.ts';
import { type LaunchedNode, launchNode, Node, spawnOn } from '../../transport/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import type { CaseDef, ParticipantScript } from './cases.ts';
import { DEFAULT_IMPL, loadImpl } from './impl.ts';
import { ATTEMPTS, type Finished, type RunScript, testProcess } from './participant.ts';

export type Mode = 'local' | 'dist';

export interface RunResult {
  caseId: number;
  run: number;
  mode: Mode;
  participants: number;
  verdict: 'PASS' | 'FAIL';
  warnings: string[];
  value: unknown;
  reason: string;
  durationMs: number;
  /** Where the run's time went (ms): see Phases. */
  phases: Phases;
  results: Finished[];
}

/** Milliseconds spent in each phase of a run. */
export interface Phases {
  /**
   * Dist mode: waiting for the run's node processes (about 0 if they were launched ahead,
   * during an earlier run) and connecting to them.
   */
  launch: number;
  /** Spawning the test processes until all reported ready. */
  setup: number;
  /** From `start` until all reported done (the Paxos run, retries included). */
  run: number;
  /** From `all_done` until all reported finished. */
  finish: number;
  /** Killing the node processes and waiting for their exits. */
  teardown: number;
}

const PARTICIPANT_MODULE = `Course=${fileURLToPath(new URL('./participant.ts', import.meta.url))}`;
/** Bound on each phase of a run (ready, done, finished). */
const PHASE_MS = scaledMs(30_000);
/** Node processes launched at once in distributed mode. */
const LAUNCHES_AT_ONCE = 4;

let runCounter = 0;

async function collect(type: string, count: number, what: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const m = await receive({ type }, PHASE_MS);
    if (m === TIMEOUT) throw new Error(`only ${i} of ${count} participants reported ${what}`);
    out.push(m);
  }
  return out;
}

/** Timestamps (performance.now()) the coordinator notes as a run goes through its phases. */
interface Marks {
  launched?: number;
  ready?: number;
  done?: number;
  finished?: number;
}

/** The coordinator process: runs the protocol over the given test processes' starter. */
async function coordinate(
  scripts: RunScript[],
  startAll: () => Promise<void>,
  reportTo: Pid,
  marks: Marks,
): Promise<void> {
  if (!(await Global.register('coord', self()))) {
    send(reportTo, { type: 'coordinated', error: 'coord is already registered' });
    return;
  }
  let report: { type: 'coordinated'; finished?: Finished[]; error?: string };
  try {
    await startAll();
    const ready = (await collect('ready', scripts.length, 'ready')) as Array<{ pid: Pid }>;
    marks.ready = performance.now();
    for (const r of ready) send(r.pid, { type: 'start' });
    const done = (await collect('done', scripts.length, 'done')) as Array<{ pid: Pid }>;
    marks.done = performance.now();
    for (const d of done) send(d.pid, { type: 'all_done' });
    const finished = (await collect('finished', scripts.length, 'finished')) as Finished[];
    marks.finished = performance.now();
    report = { type: 'coordinated', finished };
  } catch (err) {
    report = { type: 'coordinated', error: (err as Error).message };
  }
  // Free the name before reporting: the next run registers `coord` again.
  await Global.unregister('coord');
  send(reportTo, report);
}

/** An error for the run's one line (a node's launch error carries its output). */
function oneLine(text: string): string {
  return text
    .replace(/; it printed:\s*$/, '')
    .replace(/\s*\n\s*/g, ' | ')
    .trim()
    .slice(0, 500);
}

/** What the participants reported going wrong, grouped: `; <error> (<who>)`, or ''. */
function problems(finished: Finished[]): string {
  const byError = new Map<string, string[]>();
  for (const f of finished)
    if (f.error) byError.set(f.error, [...(byError.get(f.error) ?? []), f.name]);
  const parts = [...byError].map(
    ([error, names]) =>
      `${error} (${names.length === finished.length && names.length > 1 ? `all ${names.length}` : names.join(', ')})`,
  );
  return parts.map((p) => `; ${p}`).join('');
}

/** Judges a run as the coursework does: termination, agreement, validity; then warnings. */
export function judge(
  scripts: ParticipantScript[],
  finished: Finished[],
): Pick<RunResult, 'verdict' | 'warnings' | 'value' | 'reason'> {
  const survivors = finished.filter((f) => f.status !== 'killed');
  const proposed = new Set(scripts.map((s) => s.value));
  const undecided = survivors.filter((f) => f.status !== 'decided');
  const fail = (reason: string, value?: unknown) => ({
    verdict: 'FAIL' as const,
    warnings: [],
    value,
    reason: reason + problems(finished),
  });
  if (survivors.length === 0) return fail('no survivors');
  if (undecided.length > 0) {
    const who =
      undecided.length === survivors.length
        ? finished.some((f) => f.error)
          ? 'nobody decided'
          : `nobody decided (no { type: 'decide', value } reached any upper in ${ATTEMPTS} attempts of 1 s)`
        : `${undecided.map((f) => f.name).join(', ')} did not decide`;
    return fail(`termination: ${who}`);
  }
  const values = new Set(survivors.map((f) => JSON.stringify(f.value)));
  if (values.size > 1) return fail(`agreement: decided ${[...values].join(' and ')}`);
  const value = survivors[0]!.value;
  if (!proposed.has(value as number))
    return fail(`validity: ${String(value)} was never proposed`, value);
  const warnings: string[] = [];
  if (survivors.some((f) => ATTEMPTS - f.attemptsLeft + 1 > 5)) warnings.push('too_many_attempts');
  if (survivors.some((f) => f.queueLen > 10)) warnings.push('too_many_messages_left');
  return { verdict: 'PASS', warnings, value, reason: '' };
}

export interface RunOptions {
  seed: number;
  run: number;
  /** Absolute path of the implementation module (default: this project's Paxos). */
  impl?: string;
  cookie?: string;
  /** Extra options for launched nodes (distributed mode). */
  heartbeatIntervalMs?: number;
  nodeDownAfterMs?: number;
  /**
   * Distributed mode: the run's node processes, launched ahead (launchRunNodes, one per
   * participant, while an earlier run ran). They are this run's only: it kills them at its end.
   * Default: the run launches its own.
   */
  nodes?: Promise<LaunchedNode[]>;
}

/** What launching a run's node processes needs. */
export type LaunchRunOptions = Pick<
  RunOptions,
  'impl' | 'cookie' | 'heartbeatIntervalMs' | 'nodeDownAfterMs'
>;

let launchCounter = 0;

/** Kills a run's node processes (planned: the coordinator logs their node-downs as news). */
async function killNodes(nodes: LaunchedNode[]): Promise<void> {
  for (const node of nodes) {
    Node.expectDown(node.name);
    node.kill('SIGKILL');
  }
  await Promise.all(nodes.map((node) => node.exited));
}

/**
 * Launches `count` fresh node processes for one distributed run, with the participant module
 * loaded, connected to each other but not to this node (runCase connects them). If one does not come up, the others are killed and it rejects.
 */
export async function launchRunNodes(
  count: number,
  options: LaunchRunOptions = {},
): Promise<LaunchedNode[]> {
  const impl = options.impl ?? DEFAULT_IMPL;
  const prefix = `k${++launchCounter}n`;
  const launchOne = (i: number, join: string[]) =>
    launchNode({
      name: `${prefix}${i + 1}`,
      cookie: options.cookie ?? process.env.ACTORCLUSTER_COOKIE ?? 'course-cookie',
      join,
      load: [PARTICIPANT_MODULE],
      // The participant imports the implementation by path: the node runs compiled JavaScript
      // only if the implementation is compiled too.
      imports: [impl],
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      nodeDownAfterMs: options.nodeDownAfterMs,
      // Crash-stop participants recover nothing: keep their state in memory.
      env: { ACTORCLUSTER_PAXOS_STORAGE: 'memory' },
    });
  // The run's nodes form their own cluster: the first joins nobody, the others join the first
  // (and so mesh with each other). Not with this node: nodes launched ahead stay out of the run
  // going on (no links to its nodes, no part in its global registrations' locking); the run that
  // uses them connects to them when it starts.
  // A few launches at a time: eleven node processes starting at once on a busy 2-core machine
  // each ran past the start-up wait. Every launch settles before going on, so the nodes that
  // did come up are killed too.
  const settled: PromiseSettledResult<LaunchedNode>[] = [];
  if (count > 0) settled.push(...(await Promise.allSettled([launchOne(0, [])])));
  const first = settled[0]?.status === 'fulfilled' ? settled[0].value.name : null;
  for (let from = 1; first !== null && from < count; from += LAUNCHES_AT_ONCE) {
    const batch = Array.from({ length: Math.min(LAUNCHES_AT_ONCE, count - from) }, (_, k) =>
      launchOne(from + k, [first]),
    );
    settled.push(...(await Promise.allSettled(batch)));
  }
  const nodes = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed) {
    await killNodes(nodes);
    throw failed.reason;
  }
  return nodes;
}

/** Runs one case once. In dist mode this process must already be a node (Node.start). */
export async function runCase(def: CaseDef, mode: Mode, options: RunOptions): Promise<RunResult> {
  const n = mode === 'local' ? def.local : def.dist;
  if (n === null) throw new Error(`case ${def.id} has no ${mode} configuration`);
  const impl = options.impl ?? DEFAULT_IMPL;
  await loadImpl(impl); // throws an ImplError if the module is unusable
  const started = performance.now();
  const marks: Marks = {};
  const random = seededRandom(options.seed);
  const tag = `c${def.id}r${options.run}x${++runCounter}`;
  const names = Array.from({ length: n }, (_, i) => `${tag}p${i + 1}`);
  // Participant order is shuffled per run.
  for (let i = names.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [names[i], names[j]] = [names[j]!, names[i]!];
  }
  const scripts: RunScript[] = def
    .scripts(names, random)
    .map((s) => ({ ...s, seed: Math.floor(random() * 2 ** 31), impl }));
  const launching =
    mode === 'dist' ? (options.nodes ?? launchRunNodes(n, { ...options, impl })) : undefined;
  // Settled even if the run ends before using them: the finally below kills what came up.
  launching?.catch(() => undefined);
  const startAll = async () => {
    if (!launching) {
      marks.launched = performance.now();
      for (const script of scripts) spawn(testProcess, script);
      return;
    }
    const nodes = await launching;
    if (nodes.length !== scripts.length)
      throw new Error(`${nodes.length} nodes were launched for ${scripts.length} participants`);
    const joined = await Promise.all(nodes.map((node) => Node.connect(node.name)));
    const lost = nodes.filter((_, i) => !joined[i]).map((node) => node.name);
    if (lost.length > 0) throw new Error(`could not connect to node ${lost.join(', ')}`);
    marks.launched = performance.now();
    await Promise.all(
      scripts.map((script, i) => spawnOn(nodes[i]!.name, 'Course.testProcess', [script])),
    );
  };
  let report: { finished?: Finished[]; error?: string } | typeof TIMEOUT;
  let finishedAt: number;
  try {
    spawn(coordinate, scripts, startAll, self(), marks);
    report = await receive<{ finished?: Finished[]; error?: string }>(
      { type: 'coordinated' },
      PHASE_MS * 4,
    );
  } finally {
    finishedAt = performance.now();
    if (launching) await killNodes(await launching.catch(() => []));
  }
  const ended = performance.now();
  // Each phase's time; a phase the run never reached counts 0.
  const at = [started, marks.launched, marks.ready, marks.done, marks.finished ?? finishedAt];
  const span = (i: number) =>
    at[i] !== undefined && at[i + 1] !== undefined ? at[i + 1]! - at[i]! : 0;
  const phases: Phases = {
    launch: span(0),
    setup: span(1),
    run: span(2),
    finish: span(3),
    teardown: ended - finishedAt,
  };
  const base = {
    caseId: def.id,
    run: options.run,
    mode,
    participants: n,
    durationMs: ended - started,
    phases,
  };
  if (report === TIMEOUT || report.error) {
    return {
      ...base,
      verdict: 'FAIL',
      warnings: [],
      value: undefined,
      reason: report === TIMEOUT ? 'the run did not finish' : oneLine(report.error!),
      results: [],
    };
  }
  return { ...base, ...judge(scripts, report.finished!), results: report.finished! };
}
