// The test process of one participant, as in the coursework harness: waits for `coord`, starts
// its Paxos participant, reports ready, plays its script, waits for the decision with retries,
// then reports what it saw. Loaded by node processes as `Course` (spawnOn(node, 'Course.testProcess')).
import {
  Global,
  kill,
  messageQueueLen,
  type Pid,
  receive,
  resume,
  self,
  send,
  sleep,
  suspend,
  TIMEOUT,
} from '../../actors/index.ts';
import { Paxos } from '../../apps/paxos/index.ts';
import { seededRandom } from '../../transport/faults.ts';
import type { ParticipantScript } from './cases.ts';

/** Attempts of 1 s each while waiting for the decision (the coursework's retry). */
export const ATTEMPTS = 10;
const ATTEMPT_MS = 1000;
/** Bound on waiting for `coord` and for the other participants to register. */
const SETUP_WAIT_MS = 20_000;

export interface Finished {
  type: 'finished';
  name: string;
  pid: Pid;
  status: 'decided' | 'none' | 'killed';
  value: unknown;
  attemptsLeft: number;
  queueLen: number;
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + SETUP_WAIT_MS;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(2);
  }
}

export async function testProcess(script: ParticipantScript & { seed: number }): Promise<void> {
  const random = seededRandom(script.seed);
  const pause = () => sleep(1 + Math.floor(random() * 5));
  await waitFor(() => Global.whereis('coord') !== undefined, 'coord');
  const coord = Global.whereis('coord')!;
  const paxos = Paxos.start(script.name, script.participants, self());
  await waitFor(
    () =>
      script.participants.filter((n) => Global.whereis(n) !== undefined).length >=
      script.waitRegistered,
    `${script.waitRegistered} registered participants`,
  );
  send(coord, { type: 'ready', name: script.name, pid: self() });
  await receive({ type: 'start' });
  Paxos.propose(paxos, script.value);

  // The script: ballots at their times, suspensions, then the kill.
  const started = performance.now();
  const at = async (ms: number) => {
    const wait = ms - (performance.now() - started);
    if (wait > 0) await sleep(wait);
  };
  let killed = false;
  const actions: Array<{ atMs: number; run: () => Promise<void> | void }> = script.ballotsAtMs.map(
    (ms) => ({
      atMs: ms,
      run: () => Paxos.startBallot(paxos),
    }),
  );
  if (script.killAfterMs !== undefined && !script.suspendCycles) {
    actions.push({
      atMs: script.killAfterMs,
      run: () => {
        kill(paxos);
        killed = true;
      },
    });
  }
  actions.sort((a, b) => a.atMs - b.atMs);
  for (const action of actions) {
    await at(action.atMs);
    await action.run();
  }
  for (let i = 0; i < (script.suspendCycles ?? 0); i++) {
    await suspend(paxos);
    await pause();
    await resume(paxos);
    if (script.ballotAfterResume) Paxos.startBallot(paxos);
    await pause();
  }
  if (script.killAfterMs !== undefined && script.suspendCycles) {
    kill(paxos);
    killed = true;
  }

  let status: Finished['status'] = killed ? 'killed' : 'none';
  let value: unknown;
  let attemptsLeft = ATTEMPTS;
  while (!killed && attemptsLeft > 0) {
    const m = await receive<{ value: unknown }>({ type: 'decide' }, ATTEMPT_MS);
    if (m !== TIMEOUT) {
      status = 'decided';
      value = m.value;
      break;
    }
    attemptsLeft--;
    if (script.retrier) Paxos.startBallot(paxos);
  }
  send(coord, { type: 'done', name: script.name, pid: self() });
  await receive({ type: 'all_done' });
  const queueLen = (await messageQueueLen(paxos)) ?? 0;
  kill(paxos);
  await Global.unregister(script.name);
  send(coord, {
    type: 'finished',
    name: script.name,
    pid: paxos,
    status,
    value,
    attemptsLeft,
    queueLen,
  } satisfies Finished);
}
