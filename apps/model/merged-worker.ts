// One worker thread of the parallel merged search (apps/model/parallel.ts starts it).
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { CTL_DONE, exploreMerged, type MergedOptions, type MergedSpace } from './merged.ts';
import type { SpaceSpec, WorkerReport } from './parallel.ts';

const data = workerData as {
  spec: SpaceSpec;
  self: number;
  workers: number;
  ctl: SharedArrayBuffer;
  ports: Array<MessagePort | null>;
  options: MergedOptions & { dump?: boolean };
  progress: boolean;
};
const mod = (await import(data.spec.module)) as Record<
  string,
  (args: unknown) => MergedSpace | Promise<MergedSpace>
>;
const make = mod[data.spec.name];
if (typeof make !== 'function')
  throw new Error(`${data.spec.module} does not export a function ${data.spec.name}`);
const space = await make(data.spec.args);
const ctl = new Int32Array(data.ctl);
const { dump, ...options } = data.options;
const r = exploreMerged(space, {
  ...options,
  partition: { self: data.self, workers: data.workers, ctl, ports: data.ports },
  ...(data.progress ? { onProgress: (progress) => parentPort!.postMessage({ progress }) } : {}),
});
const st = space.stats();
const report: WorkerReport = {
  // A worker stopped by another's bound or violation reports the search as that one ends it.
  kind: r.kind === 'clean' && Atomics.load(ctl, CTL_DONE) !== 1 ? 'stopped' : r.kind,
  ...(r.kind === 'bound' ? { bound: r.bound } : {}),
  ...(r.kind === 'possible' ? { violation: r.violation } : {}),
  configurations: r.configurations,
  expansions: r.expansions,
  transitions: r.transitions,
  messages: r.messages,
  order: r.order,
  nodeStates: st.nodeStates,
  nodeSteps: st.nodeSteps,
  ...(dump ? { dump: r.dump() } : {}),
};
parentPort!.postMessage({ report });
