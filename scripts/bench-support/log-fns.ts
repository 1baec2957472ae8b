// Loaded on the nodes of bench:paxos's Multi-Paxos sections as `BenchLog`: a replicated log of
// client values (apps/rsm with a minimal machine), clients that keep many calls in flight at
// their node's replica, and a stats process that reads the node's transport counters.
import {
  ActorError,
  type CallMessage,
  isCall,
  type Pid,
  receive,
  registry,
  reply,
  send,
} from '../../actors/index.ts';
import { runOp, status } from '../../apps/rsm/client.ts';
import { type Machine, type Op, opFields, remember, requestId } from '../../apps/rsm/machine.ts';
import { type ReplicaOptions, replica as rsmReplica } from '../../apps/rsm/replica.ts';

/** The service name: replicas register as `benchlog:<name>`. */
export const LOG_SERVICE = 'benchlog';

/** One client value. */
export interface LogOp extends Op {
  v: number;
}

export interface LogState {
  /** Values applied (the log's length). */
  length: number;
  sum: number;
  /** Each value's position, by reqId (so a retried value is not appended twice). */
  results: Map<string, number>;
}

/** How many positions are remembered for deduplicating retries (as inventory does). */
const REMEMBERED = 100_000;

/** The cheapest useful machine: appends a number, answers its position in the log. */
export const logMachine: Machine<LogState, LogOp, number> = {
  service: LOG_SERVICE,
  empty: () => ({ length: 0, sum: 0, results: new Map() }),
  validate(op: unknown): asserts op is LogOp {
    const o = opFields(op);
    if (typeof o.v !== 'number')
      throw new ActorError('invalid_argument', 'a log value must be a number');
  },
  apply(state, op) {
    const at = state.length++;
    state.sum += op.v;
    remember(state.results, op.reqId, at, REMEMBERED);
    return at;
  },
  resultOf: (state, reqId) => state.results.get(reqId),
  snapshot: (state) => ({ length: state.length, sum: state.sum, results: [...state.results] }),
  restore(snap) {
    const s = snap as { length: number; sum: number; results: Array<[string, number]> };
    return { length: s.length, sum: s.sum, results: new Map(s.results) };
  },
  describe: (state) => ({ length: state.length }),
};

/** The replica's body (spawned on its node): `spawnOn(node, 'BenchLog.replica', [...])`. */
export function replica(name: string, procs: string[], options?: ReplicaOptions): Promise<void> {
  return rsmReplica(logMachine, name, procs, options);
}

// ---- latency histogram: buckets 1% wide, merged by the bench ---------------------------------

const STEP = Math.log(1.01);

/** Latencies in microseconds, as counts per bucket index (sparse). */
export type Histogram = Record<number, number>;

export function record(h: Histogram, us: number): void {
  const b = us <= 1 ? 0 : Math.ceil(Math.log(us) / STEP);
  h[b] = (h[b] ?? 0) + 1;
}

export function merge(into: Histogram, h: Histogram): void {
  for (const [b, n] of Object.entries(h)) into[Number(b)] = (into[Number(b)] ?? 0) + n;
}

/** The p-th percentile (upper edge of its bucket: at most 1% above the true value), in us. */
export function percentile(h: Histogram, p: number): number {
  const buckets = Object.entries(h)
    .map(([b, n]) => [Number(b), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const total = buckets.reduce((s, [, n]) => s + n, 0);
  if (total === 0) return Number.NaN;
  const rank = Math.min(total, Math.max(1, Math.ceil((p / 100) * total)));
  let seen = 0;
  for (const [b, n] of buckets) {
    seen += n;
    if (seen >= rank) return Math.exp(b * STEP);
  }
  return Number.NaN;
}

// ---- clients -------------------------------------------------------------------------------

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes here. */
export const wallMs = () => performance.timeOrigin + performance.now();

/** A client's report at the end of a timed window. */
export interface WindowReport {
  type: 'window_done';
  tag: string;
  /** Values acknowledged within the window. */
  acked: number;
  /** Their latencies, call to reply. */
  latencies: Histogram;
  errors: number;
  errorSamples: string[];
  /** The longest time within the window without an acknowledgement here, ms. */
  longestPause: number;
}

/** A client's answer to `{ type: 'after', t }`: the first acknowledgements after time t. */
export interface AfterReport {
  type: 'after_done';
  tag: string;
  id: number;
  /** When the first value acknowledged after t was (it may have been decided before t). */
  firstAck: number;
  /** When the first value submitted at or after t was acknowledged (decided after t). */
  firstNew: number;
}

/** An open-ended client's report once told to stop. */
export interface StopReport {
  type: 'stop_done';
  tag: string;
  acked: number;
  errors: number;
  errorSamples: string[];
}

/** Runs `callers` calls in a loop, one in flight each; `done` is called after each (ok or not). */
function callers(
  server: string,
  count: number,
  keepGoing: () => boolean,
  done: (startedAt: number, endedAt: number, err: unknown) => void,
): Promise<unknown> {
  let v = 0;
  return Promise.all(
    Array.from({ length: count }, async () => {
      while (keepGoing()) {
        const startedAt = wallMs();
        let failure: unknown;
        try {
          await runOp(logMachine, server, { reqId: requestId(), v: v++ } satisfies LogOp, {});
        } catch (err) {
          failure = err ?? 'error';
        }
        done(startedAt, wallMs(), failure);
      }
    }),
  );
}

/**
 * Keeps `count` calls in flight at replica `server` of this node until wall time `endAt`; then
 * reports to `to` the values acknowledged in [startAt, endAt] and their latencies.
 */
export async function windowClient(
  server: string,
  count: number,
  startAt: number,
  endAt: number,
  to: Pid,
  tag: string,
): Promise<void> {
  const latencies: Histogram = {};
  let acked = 0;
  let errors = 0;
  const samples = new Set<string>();
  let lastAck = startAt;
  let longestPause = 0;
  await callers(
    server,
    count,
    () => wallMs() < endAt,
    (startedAt, endedAt, err) => {
      if (err !== undefined) {
        errors++;
        if (samples.size < 5) samples.add(String(err));
      } else if (endedAt >= startAt && endedAt <= endAt) {
        acked++;
        record(latencies, (endedAt - startedAt) * 1000);
        longestPause = Math.max(longestPause, endedAt - lastAck);
        lastAck = endedAt;
      }
    },
  );
  send(to, {
    type: 'window_done',
    tag,
    acked,
    latencies,
    errors,
    errorSamples: [...samples],
    longestPause: Math.max(longestPause, endAt - lastAck),
  } satisfies WindowReport);
}

/**
 * Keeps `count` calls in flight at replica `server` until told `{ type: 'stop' }`. Answers
 * `{ type: 'after', t, id, to }` with an AfterReport once a value submitted at or after t is
 * acknowledged (looking back at recent acknowledgements first: the question may arrive late).
 */
export async function openClient(server: string, count: number, tag: string): Promise<void> {
  let stopping = false;
  let acked = 0;
  let errors = 0;
  const samples = new Set<string>();
  /** Acknowledgements of the last seconds: [startedAt, endedAt], in order of endedAt. */
  let recent: Array<[number, number]> = [];
  const watches: Array<{ t: number; id: number; to: Pid; firstAck: number }> = [];
  const answer = (w: (typeof watches)[number], firstNew: number) =>
    send(w.to, {
      type: 'after_done',
      tag,
      id: w.id,
      firstAck: w.firstAck,
      firstNew,
    } satisfies AfterReport);
  const running = callers(
    server,
    count,
    () => !stopping,
    (startedAt, endedAt, err) => {
      if (err !== undefined) {
        errors++;
        if (samples.size < 5) samples.add(String(err));
        return;
      }
      acked++;
      recent.push([startedAt, endedAt]);
      if (recent.length > 200_000) recent = recent.filter(([, e]) => e > endedAt - 10_000);
      for (let i = watches.length - 1; i >= 0; i--) {
        const w = watches[i]!;
        if (endedAt >= w.t && Number.isNaN(w.firstAck)) w.firstAck = endedAt;
        if (startedAt >= w.t) {
          watches.splice(i, 1);
          answer(w, endedAt);
        }
      }
    },
  );
  for (;;) {
    const m = await receive<
      { type: 'after'; t: number; id: number; to: Pid } | { type: 'stop'; to: Pid }
    >((x) => typeof x === 'object' && x !== null && 'type' in x);
    if (m.type === 'stop') {
      stopping = true;
      await running;
      send(m.to, {
        type: 'stop_done',
        tag,
        acked,
        errors,
        errorSamples: [...samples],
      } satisfies StopReport);
      return;
    }
    const w = { t: m.t, id: m.id, to: m.to, firstAck: Number.NaN };
    const firstAck = recent.find(([, e]) => e >= m.t);
    if (firstAck) w.firstAck = firstAck[1];
    const firstNew = recent.find(([s]) => s >= m.t);
    if (firstNew) answer(w, firstNew[1]);
    else watches.push(w);
  }
}

// ---- the node's counters -------------------------------------------------------------------

/** What a stats call answers: this node's traffic totals and its replica's log position. */
export interface NodeStats {
  /** Wire messages, ws frames and frame bytes this node sent since it started (every kind). */
  messagesOut: number;
  framesOut: number;
  bytesOut: number;
  /** Log positions (Paxos instances) its replica applied. */
  applied: number;
}

async function outTotal(metric: string): Promise<number> {
  const m = registry.getSingleMetric(metric);
  if (!m) return Number.NaN;
  const { values } = await m.get();
  return values.reduce((s, v) => (v.labels.direction === 'out' ? s + v.value : s), 0);
}

/** Answers every call with this node's NodeStats (the replica named `replicaName`'s position). */
export async function stats(replicaName: string): Promise<void> {
  for (;;) {
    const m = await receive<CallMessage>((x) => isCall(x));
    const [messagesOut, framesOut, bytesOut, s] = await Promise.all([
      outTotal('actorcluster_messages_total'),
      outTotal('actorcluster_frames_total'),
      outTotal('actorcluster_bytes_total'),
      status(LOG_SERVICE, replicaName, 10_000).catch(() => undefined),
    ]);
    reply(m.from, {
      messagesOut,
      framesOut,
      bytesOut,
      applied: s?.applied ?? Number.NaN,
    } satisfies NodeStats);
  }
}
