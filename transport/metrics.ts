// The transport's metrics, read from the node's traffic totals at scrape time.
import { Counter } from 'prom-client';
import { gauge, registry } from '../actors/metrics.ts';
import type { ClusterNode } from './node.ts';

let source: (() => ClusterNode | null) | null = null;

/** A counter whose value is read at scrape time. */
function readCounter(
  name: string,
  help: string,
  labelNames: string[],
  read: (node: ClusterNode, set: (labels: Record<string, string>, value: number) => void) => void,
): void {
  new Counter({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      const node = source?.();
      if (node) read(node, (labels, value) => this.inc(labels, value));
    },
  });
}

/** Registers the transport's metrics once; `current` gives the running node (or null). */
export function installTransportMetrics(current: () => ClusterNode | null): void {
  if (source) {
    source = current;
    return;
  }
  source = current;
  readCounter(
    'actorcluster_messages_total',
    'Messages sent and received, by kind',
    ['direction', 'kind'],
    (n, set) => {
      const t = n.traffic().totals;
      for (const [kind, v] of Object.entries(t.kindsOut)) set({ direction: 'out', kind }, v);
      for (const [kind, v] of Object.entries(t.kindsIn)) set({ direction: 'in', kind }, v);
    },
  );
  readCounter(
    'actorcluster_bytes_total',
    'Bytes of frames sent and received',
    ['direction'],
    (n, set) => {
      const t = n.traffic().totals;
      set({ direction: 'out' }, t.bytesOut);
      set({ direction: 'in' }, t.bytesIn);
    },
  );
  readCounter(
    'actorcluster_frames_total',
    'Frames (batches of messages) sent and received',
    ['direction'],
    (n, set) => {
      const t = n.traffic().totals;
      set({ direction: 'out' }, t.framesOut);
      set({ direction: 'in' }, t.framesIn);
    },
  );
  readCounter(
    'actorcluster_heartbeats_missed_total',
    'Heartbeat intervals in which nothing was heard from a connected peer',
    [],
    (n, set) => set({}, n.traffic().totals.heartbeatsMissed),
  );
  readCounter('actorcluster_node_down_total', 'Peers declared down', [], (n, set) =>
    set({}, n.traffic().totals.nodeDowns),
  );
  gauge(
    'actorcluster_link_up',
    'Links to known peers: 1 up, 0 down; partitioned=1 while a partition fault is set',
    ['peer', 'partitioned'],
    function () {
      this.reset();
      const node = source?.();
      if (!node) return;
      for (const p of node.traffic().peers)
        this.set({ peer: p.name, partitioned: p.partitioned ? '1' : '0' }, p.up ? 1 : 0);
    },
  );
}
