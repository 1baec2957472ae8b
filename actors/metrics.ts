// Prometheus metrics (prom-client): one registry per process (node). Each layer defines its own
// metrics here by name; counts that already exist elsewhere are read at scrape time (collect),
// so the hot paths pay nothing for them.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { kernel } from './kernel.ts';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'actorcluster_' });

type Labels = readonly string[];
const made = new Map<string, Counter | Gauge | Histogram>();

function once<M extends Counter | Gauge | Histogram>(name: string, make: () => M): M {
  let m = made.get(name);
  if (!m) {
    m = make();
    made.set(name, m);
  }
  return m as M;
}

export function counter(name: string, help: string, labelNames: Labels = []): Counter {
  return once(name, () => new Counter({ name, help, labelNames, registers: [registry] }));
}

/** A gauge, optionally computed at each scrape by `collect` (which sets it). */
export function gauge(
  name: string,
  help: string,
  labelNames: Labels = [],
  collect?: (this: Gauge) => void,
): Gauge {
  return once(
    name,
    () =>
      new Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) }),
  );
}

export function histogram(
  name: string,
  help: string,
  buckets: number[],
  labelNames: Labels = [],
): Histogram {
  return once(
    name,
    () => new Histogram({ name, help, buckets, labelNames, registers: [registry] }),
  );
}

/** The metrics in Prometheus's text format. */
export function metricsText(): Promise<string> {
  return registry.metrics();
}

// ---- the runtime's own ----
gauge('actorcluster_processes', 'Processes alive on this node', [], function () {
  this.set(kernel.mailboxStats().processes);
});
gauge('actorcluster_mailbox_length_max', 'The longest mailbox on this node now', [], function () {
  this.set(kernel.mailboxStats().longestNow);
});
gauge(
  'actorcluster_mailbox_length_high_water',
  'The longest mailbox any process of this node has had since it started',
  [],
  function () {
    this.set(kernel.mailboxHighWater);
  },
);
export const supervisorRestarts = counter(
  'actorcluster_supervisor_restarts_total',
  'Children restarted by supervisors',
  ['strategy'],
);
