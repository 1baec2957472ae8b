// A child node for the link-race test (link-race.test.ts), driven over IPC: it starts a node,
// keeps a `sink` that records the sequence numbers it receives, and on `go` sends a numbered
// stream to the peer's sink at a given wall-clock instant, watching that peer with Node.monitor.
// Run as: node --import tsx test/transport/race-peer.ts NAME (with an IPC channel).
import { receive, register, self, send, spawn } from '../../actors/index.ts';
import { Node, type NodeOptions } from '../../transport/index.ts';

type Command = { cmd: 'go'; peer: string; n: number; at: number } | { cmd: 'report' };

const name = process.argv[2] ?? 'peer';
const extra = JSON.parse(process.env.RACE_NODE_OPTIONS ?? '{}') as Partial<NodeOptions>;
const full = await Node.start({ name, heartbeatIntervalMs: 100, nodeDownAfterMs: 2000, ...extra });

/** Sequence numbers the sink received, in arrival order. */
const got: number[] = [];
/** Node events seen: nodeup/nodedown for every node, and Node.monitor's nodedown. */
const events: string[] = [];

spawn(async () => {
  register('sink', self());
  for (;;) got.push((await receive<{ seq: number }>()).seq);
});
spawn(async () => {
  Node.monitorNodes(true);
  for (;;) {
    const e = await receive<{ type: string }>();
    events.push(`all:${e.type}`);
  }
});

function go(peer: string, n: number, at: number): void {
  spawn(async () => {
    // Both nodes start at the same wall-clock instant (one clock: the same machine).
    while (performance.timeOrigin + performance.now() < at) {}
    Node.monitor(peer); // a nodedown here says "what you sent may be lost"
    // In bursts over several event-loop turns: some before the link is up, some on it.
    for (let seq = 0; seq < n; seq++) {
      send(['sink', peer], { seq });
      if (seq % 10 === 9) await new Promise((r) => setImmediate(r));
    }
    for (;;) {
      const e = await receive<{ type: string }>();
      events.push(`monitor:${e.type}`);
    }
  });
}

process.on('message', (m: Command) => {
  if (m.cmd === 'go') go(m.peer, m.n, m.at);
  else process.send?.({ got, events, up: Node.list() });
});
process.on('disconnect', () => process.exit(0));
process.send?.({ name: full });
