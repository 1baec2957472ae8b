// Loaded on every node by bench:epaxos as `BenchEp`: a client process that keeps operations in
// flight against its node's inventory replica (Multi-Paxos or EPaxos: the same calls) with a
// given conflict rate, and a stats process: the node's traffic and its EPaxos replica's dependencies.
import {
  type CallMessage,
  isCall,
  type Pid,
  receive,
  registry,
  reply,
  send,
} from '../../actors/index.ts';
import { parseInstance } from '../../apps/epaxos/messages.ts';
import { openEpaxosStore } from '../../apps/epaxos/storage.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { type Histogram, record, wallMs } from './log-fns.ts';

/** The item every conflicting operation adds to. */
export const HOT_ITEM = 'hot';

/** A client's report at the end of its timed window. */
export interface EpClientReport {
  type: 'ep_client_done';
  tag: string;
  /** Operations answered within the window. */
  acked: number;
  /** Of those, how many were on the hot item. */
  hot: number;
  /** Their latencies, call to answer (executed at the replica), microseconds. */
  latencies: Histogram;
  errors: number;
  errorSamples: string[];
}

/**
 * Keeps `concurrency` operations in flight at replica `server` (this node's) until wall time
 * `endAt`: each adds 1 to HOT_ITEM with probability `conflict`, else to an item no other
 * operation touches. Reports to `to` the operations answered within [startAt, endAt].
 */
export async function client(
  server: string,
  concurrency: number,
  conflict: number,
  startAt: number,
  endAt: number,
  to: Pid,
  tag: string,
): Promise<void> {
  const latencies: Histogram = {};
  let acked = 0;
  let hot = 0;
  let errors = 0;
  const samples = new Set<string>();
  let n = 0;
  const worker = async () => {
    while (wallMs() < endAt) {
      const isHot = Math.random() < conflict;
      const item = isHot ? HOT_ITEM : `${tag}-${n++}`;
      const startedAt = wallMs();
      let failed = false;
      try {
        await InventoryServer.add(server, item, 1);
      } catch (err) {
        failed = true;
        errors++;
        if (samples.size < 5) samples.add(String(err));
      }
      const endedAt = wallMs();
      if (!failed && startedAt >= startAt && endedAt <= endAt) {
        acked++;
        if (isHot) hot++;
        record(latencies, (endedAt - startedAt) * 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  send(to, {
    type: 'ep_client_done',
    tag,
    acked,
    hot,
    latencies,
    errors,
    errorSamples: [...samples],
  } satisfies EpClientReport);
}

/** Per leading replica, the highest instance number seen: where a window's instances start. */
export type Watermarks = Record<string, number>;

/** What a deps call answers: the dependencies of the instances above the given watermarks. */
export interface DepsStats {
  /** Instances counted (with a command), their dependencies in all, the most of one. */
  instances: number;
  deps: number;
  maxDeps: number;
  /** The watermarks now (pass them to the next call). */
  marks: Watermarks;
}

/** What a stats call answers: this node's traffic totals, and its EPaxos replica's deps. */
export interface NodeStats {
  /** Wire messages and ws frames this node sent since it started (every kind). */
  messagesOut: number;
  framesOut: number;
  /** For an EPaxos replica only. */
  deps?: DepsStats;
}

async function outTotal(metric: string): Promise<number> {
  const m = registry.getSingleMetric(metric);
  if (!m) return Number.NaN;
  const { values } = await m.get();
  return values.reduce((s, v) => (v.labels.direction === 'out' ? s + v.value : s), 0);
}

/** The dependencies of the instances above `since` that replica `replica`'s store holds. */
function depsSince(replica: string, since: Watermarks): DepsStats {
  const out: DepsStats = { instances: 0, deps: 0, maxDeps: 0, marks: { ...since } };
  for (const [key, rec] of openEpaxosStore('inventory', replica).records) {
    const { replica: leader, n } = parseInstance(key);
    if (n > (out.marks[leader] ?? -1)) out.marks[leader] = n;
    if (!rec.cmd || n <= (since[leader] ?? -1)) continue;
    out.instances++;
    out.deps += rec.deps.length;
    if (rec.deps.length > out.maxDeps) out.maxDeps = rec.deps.length;
  }
  return out;
}

/**
 * Answers every call `{ since?: Watermarks }` with this node's NodeStats; with `since`, the
 * deps of EPaxos replica `replica` of the inventory (read from its store, which this process
 * shares with the replica itself).
 */
export async function stats(replica: string): Promise<void> {
  for (;;) {
    const m = await receive<CallMessage>((x) => isCall(x));
    const since = (m.request as { since?: Watermarks }).since;
    const [messagesOut, framesOut] = await Promise.all([
      outTotal('actorcluster_messages_total'),
      outTotal('actorcluster_frames_total'),
    ]);
    reply(m.from, {
      messagesOut,
      framesOut,
      ...(since ? { deps: depsSince(replica, since) } : {}),
    } satisfies NodeStats);
  }
}
