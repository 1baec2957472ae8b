// The test process of one participant, as in the coursework harness: waits for `coord`, starts
// its Paxos participant, reports ready, plays its script, waits for the decision with retries,
// then reports what it saw. Loaded by node processes as `Course` (spawnOn(node, 'Course.testProcess')).
// The implementation under test is loaded by path (script.impl); whatever it throws, or however
// its process dies, is caught and reported in `error`, so a broken implementation FAILs its run
// with a reason instead of crashing or stalling the harness.
import {
  formatReason,
  Global,
  isPid,
  kill,
  matches,
  messageQueueLen,
  monitor,
  type Pid,
  receive,
  resume,
  self,
  send,
  sleep,
  suspend,
  TIMEOUT,
  trapExit,
} from '../../actors/index.ts';
import { seededRandom } from '../../transport/faults.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import type { ParticipantScript } from './cases.ts';
import { type CourseImpl, loadImpl } from './impl.ts';

/** Attempts of 1 s each while waiting for the decision (the coursework's retry). */
export const ATTEMPTS = 10;
const ATTEMPT_MS = 1000;
/** Bound on waiting for `coord` and for the other participants to register. */
const SETUP_WAIT_MS = scaledMs(20_000);
/** How often those waits look again (11 test processes polling every 2 ms cost CPU a busy
 * machine lacks; a few ms more before `ready` changes nothing in the run). */
const POLL_MS = 5;

/** A participant's script in one run: the case's script, its seed and the module under test. */
export interface RunScript extends ParticipantScript {
  seed: number;
  /** Absolute path of the implementation module. */
  impl: string;
}

export interface Finished {
  type: 'finished';
  name: string;
  /** The participant's pid (null if start failed). */
  pid: Pid | null;
  status: 'decided' | 'none' | 'killed';
  value: unknown;
  attemptsLeft: number;
  queueLen: number;
  /** What went wrong on the implementation's side (a throw, its process dying), if anything. */
  error?: string;
}

async function waitFor(cond: () => boolean, deadlineMs: number): Promise<boolean> {
  const deadline = performance.now() + deadlineMs;
  while (!cond()) {
    if (performance.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

const describe = (err: unknown) => formatReason(err).split('\n')[0]!;

export async function testProcess(script: RunScript): Promise<void> {
  // An implementation that links its participant to the caller (spawnLink) must not take this
  // process down with it, when it crashes or when the harness kills it.
  trapExit(true);
  const random = seededRandom(script.seed);
  const pause = () => sleep(1 + Math.floor(random() * 5));
  const errors: string[] = [];
  const note = (text: string) => {
    if (errors.length < 3 && !errors.includes(text)) errors.push(text);
  };
  if (!(await waitFor(() => Global.whereis('coord') !== undefined, SETUP_WAIT_MS))) return;
  const coord = Global.whereis('coord')!;

  // Calls into the implementation: a throw (or a rejected promise) is noted, never fatal.
  const guard = (what: string, f: () => unknown): unknown => {
    try {
      const r = f();
      if (r instanceof Promise) r.catch((err: unknown) => note(`${what} failed: ${describe(err)}`));
      return r;
    } catch (err) {
      note(`${what} threw: ${describe(err)}`);
      return undefined;
    }
  };

  let impl: CourseImpl | null = null;
  try {
    impl = await loadImpl(script.impl);
  } catch (err) {
    note((err as Error).message);
  }
  let paxos: Pid | null = null;
  if (impl) {
    const started = await Promise.resolve(
      guard('start', () => impl.start(script.name, script.participants, self())),
    ).catch(() => undefined);
    if (isPid(started)) paxos = started;
    else if ((started as { constructor?: { name?: string } } | null)?.constructor?.name === 'Pid')
      note(
        'start returned a pid of another copy of the actor runtime (keep the module inside this project, importing its actors/index.ts: a .ts file outside a "type": "module" package is loaded as CommonJS, with a runtime of its own)',
      );
    else if (errors.length === 0)
      note(`start returned ${describe(started)}, not a pid (it must return the participant's pid)`);
  }
  const ref = paxos ? monitor(paxos) : null;
  if (paxos) {
    const registered = () =>
      script.participants.filter((n) => Global.whereis(n) !== undefined).length;
    if (!(await waitFor(() => registered() >= script.waitRegistered, SETUP_WAIT_MS)))
      note(
        `only ${registered()} of ${script.participants.length} participants were registered globally after ${SETUP_WAIT_MS / 1000} s (start must register the name, e.g. Global.register(name, pid))`,
      );
  }
  send(coord, { type: 'ready', name: script.name, pid: self() });
  await receive({ type: 'start' });

  let killed = false;
  if (paxos) {
    const pid = paxos;
    guard('propose', () => impl!.propose(pid, script.value));
    const ballot = () => guard('start_ballot', () => impl!.startBallot(pid));

    // The script: ballots at their times, suspensions, then the kill.
    const t0 = performance.now();
    const at = async (ms: number) => {
      const wait = ms - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
    };
    const actions: Array<{ atMs: number; run: () => void }> = script.ballotsAtMs.map((ms) => ({
      atMs: ms,
      run: ballot,
    }));
    if (script.killAfterMs !== undefined && !script.suspendCycles) {
      actions.push({
        atMs: script.killAfterMs,
        run: () => {
          killed = true;
          kill(pid);
        },
      });
    }
    actions.sort((a, b) => a.atMs - b.atMs);
    for (const action of actions) {
      await at(action.atMs);
      action.run();
    }
    for (let i = 0; i < (script.suspendCycles ?? 0); i++) {
      await suspend(pid).catch(() => undefined);
      await pause();
      await resume(pid).catch(() => undefined);
      if (script.ballotAfterResume) ballot();
      await pause();
    }
    if (script.killAfterMs !== undefined && script.suspendCycles) {
      killed = true;
      kill(pid);
    }
  }

  let status: Finished['status'] = killed ? 'killed' : 'none';
  let value: unknown;
  let attemptsLeft = ATTEMPTS;
  // Nothing to wait for if there is no participant (start failed).
  while (paxos && !killed && attemptsLeft > 0) {
    const m = await receive<{ type: 'decide'; value: unknown } | { type: 'DOWN'; reason: unknown }>(
      (msg) => matches({ type: 'decide' }, msg) || matches({ type: 'DOWN', ref }, msg),
      ATTEMPT_MS,
    );
    if (m === TIMEOUT) {
      attemptsLeft--;
      if (script.retrier) guard('start_ballot', () => impl!.startBallot(paxos!));
      continue;
    }
    if (m.type === 'decide') {
      status = 'decided';
      value = m.value;
      break;
    }
    note(`its process exited before deciding: ${describe(m.reason)}`);
    break;
  }
  send(coord, { type: 'done', name: script.name, pid: self() });
  await receive({ type: 'all_done' });
  let queueLen = 0;
  if (paxos) {
    queueLen = (await messageQueueLen(paxos).catch(() => undefined)) ?? 0;
    kill(paxos);
  }
  await Global.unregister(script.name).catch(() => undefined);
  send(coord, {
    type: 'finished',
    name: script.name,
    pid: paxos,
    status,
    value,
    attemptsLeft,
    queueLen,
    ...(errors.length > 0 ? { error: errors.join('; ') } : {}),
  } satisfies Finished);
}
