// The merged search on several cores: one worker thread per core, each owning the configurations
// whose hash falls to it (apps/model/merged.ts, MergedPartition). Each worker builds its own model
// from a module and its arguments (a model is closures and maps: it cannot be copied to a thread).
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import {
  CTL_DONE,
  CTL_STOP,
  ctlLength,
  type MergedOptions,
  type MergedProgress,
  type MergedResult,
} from './merged.ts';

/** Where a worker gets its model: `await import(module)[name](args)` gives a MergedSpace. */
export interface SpaceSpec {
  module: string;
  name: string;
  args: unknown;
}

/** What each worker sends back at the end (plain data). */
export interface WorkerReport {
  /** 'stopped': another worker ended the search (a bound, a possible violation). */
  kind: MergedResult['kind'] | 'stopped';
  bound?: 'states' | 'seconds' | 'memory';
  violation?: string;
  configurations: number;
  expansions: number;
  transitions: number;
  messages: number;
  order: 'rank' | 'fifo';
  nodeStates: number;
  nodeSteps: number;
  dump?: string[];
}

type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type ParallelResult = OmitEach<MergedResult, 'networkOf' | 'dump'> & {
  workers: WorkerReport[];
  /** With `dump`: every worker's configurations (see MergedResult's `dump`). */
  dump?: string[];
};

export interface ParallelOptions extends Omit<MergedOptions, 'partition'> {
  workers: number;
  dump?: boolean;
}

/** `--workers auto`: every core this process may use. */
export const autoWorkers = (): number => availableParallelism();

/** Runs the merged search on `workers` threads to its fixpoint, a bound or a possible violation. */
export async function exploreMergedParallel(
  spec: SpaceSpec,
  options: ParallelOptions,
): Promise<ParallelResult> {
  const started = performance.now();
  const N = options.workers;
  if (!Number.isInteger(N) || N < 1) throw new RangeError(`workers must be 1 or more, not ${N}`);
  const ctl = new Int32Array(new SharedArrayBuffer(4 * ctlLength(N)));
  // A channel between each two workers.
  const ports: Array<Array<MessagePort | null>> = Array.from({ length: N }, () =>
    Array.from({ length: N }, () => null),
  );
  for (let a = 0; a < N; a++)
    for (let b = a + 1; b < N; b++) {
      const ch = new MessageChannel();
      ports[a]![b] = ch.port1;
      ports[b]![a] = ch.port2;
    }
  const { onProgress, progressMs = 2000, ...rest } = options;
  const progress: Array<MergedProgress | null> = Array.from({ length: N }, () => null);
  let lastShown = started;
  const workers = Array.from({ length: N }, (_, self) => {
    const mine = ports[self]!.filter((p): p is MessagePort => p !== null);
    // The worker registers tsx itself: it is TypeScript, however this process was started.
    return new Worker(new URL('./merged-worker.mjs', import.meta.url), {
      workerData: {
        spec,
        self,
        workers: N,
        ctl: ctl.buffer,
        ports: ports[self],
        options: { ...rest, progressMs: Math.min(progressMs, 1000) },
        progress: onProgress !== undefined,
      },
      transferList: mine,
    });
  });
  const reports = await Promise.all(
    workers.map(
      (w, self) =>
        new Promise<WorkerReport>((resolve, reject) => {
          w.on('message', (m: { progress?: MergedProgress; report?: WorkerReport }) => {
            if (m.report) resolve(m.report);
            if (m.progress && onProgress) {
              progress[self] = m.progress;
              const now = performance.now();
              if (now - lastShown >= progressMs && progress.every((p) => p !== null)) {
                lastShown = now;
                const all = progress as MergedProgress[];
                const sum = (f: (p: MergedProgress) => number) => all.reduce((s, p) => s + f(p), 0);
                onProgress({
                  configurations: sum((p) => p.configurations),
                  expansions: sum((p) => p.expansions),
                  queued: sum((p) => p.queued),
                  elapsedMs: now - started,
                  perSec: sum((p) => p.perSec),
                  heapMb: sum((p) => p.heapMb),
                });
              }
            }
          });
          w.on('error', (err) => {
            Atomics.store(ctl, CTL_STOP, 1); // the others stop too
            reject(err);
          });
          w.on('exit', (code) => {
            // After a report this changes nothing (a promise settles once).
            Atomics.store(ctl, CTL_STOP, 1);
            reject(
              new Error(
                `model-check worker ${self + 1} of ${N} exited (code ${code}) without a result`,
              ),
            );
          });
        }),
    ),
  ).finally(() => {
    for (const w of workers) void w.terminate();
  });
  const sum = (f: (r: WorkerReport) => number) => reports.reduce((s, r) => s + f(r), 0);
  const possible = reports.find((r) => r.kind === 'possible');
  const bound = reports.find((r) => r.kind === 'bound');
  if (
    !possible &&
    !bound &&
    (Atomics.load(ctl, CTL_DONE) !== 1 || reports.some((r) => r.kind !== 'clean'))
  )
    throw new Error('the parallel search ended without every worker agreeing it was done');
  const totals = {
    configurations: sum((r) => r.configurations),
    expansions: sum((r) => r.expansions),
    transitions: sum((r) => r.transitions),
    messages: Math.max(...reports.map((r) => r.messages)),
    elapsedMs: performance.now() - started,
    order: reports.some((r) => r.order === 'fifo') ? ('fifo' as const) : ('rank' as const),
    workers: reports,
    ...(options.dump ? { dump: reports.flatMap((r) => r.dump ?? []) } : {}),
  };
  if (possible) return { ...totals, kind: 'possible', violation: possible.violation! };
  if (bound) return { ...totals, kind: 'bound', bound: bound.bound! };
  return { ...totals, kind: 'clean' };
}
