// Loaded on every node by bench:inventory: a client process that drives the local replica with
// a mix of operations at a fixed concurrency and reports its latencies.
import { metricsText, type Pid, send } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';

export interface ClientReport {
  type: 'client_done';
  node: string;
  ops: number;
  errors: number;
  /** The first few distinct error messages. */
  errorSamples: string[];
  /** Latency of every operation, microseconds. */
  latencies: number[];
  startedAt: number;
  endedAt: number;
  /** CPU time (user + system, microseconds) this node's process used during the run. */
  cpuUs: number;
  /** Frames and messages this node sent to other nodes during the run. */
  framesOut: number;
  msgsOut: number;
}

/** Frames and messages this node has sent so far (its transport's metrics). */
async function traffic(): Promise<{ frames: number; msgs: number }> {
  let frames = 0;
  let msgs = 0;
  for (const line of (await metricsText()).split('\n')) {
    const value = Number(line.split(' ').at(-1));
    if (line.startsWith('actorcluster_frames_total{direction="out"}')) frames += value;
    else if (line.startsWith('actorcluster_messages_total{direction="out"')) msgs += value;
  }
  return { frames, msgs };
}

const ITEMS = ['apple', 'pear', 'plum', 'fig', 'kiwi', 'lime', 'date', 'yuzu'];

/** Runs `ops` operations against replica `server` with `concurrency` in flight; reports to `to`. */
export async function client(
  server: string,
  ops: number,
  concurrency: number,
  to: Pid,
  node: string,
): Promise<void> {
  const latencies: number[] = [];
  let errors = 0;
  const errorSamples = new Set<string>();
  let issued = 0;
  const traffic0 = await traffic();
  const startedAt = Date.now();
  const cpu0 = process.cpuUsage();
  const worker = async (w: number) => {
    while (issued < ops) {
      const n = issued++;
      const at = (n * 7 + w) % ITEMS.length;
      const item = ITEMS[at]!;
      const kind = n % 10;
      const t0 = performance.now();
      try {
        if (kind < 4) await InventoryServer.add(server, item, 2);
        else if (kind < 7) await InventoryServer.remove(server, item, 1);
        else if (kind < 9) await InventoryServer.get(server, item);
        else
          await InventoryServer.order(server, [
            { item, qty: 1 },
            { item: ITEMS[(at + 1) % ITEMS.length]!, qty: 1 },
          ]);
      } catch (err) {
        errors++;
        if (errorSamples.size < 5) errorSamples.add(String(err));
      }
      latencies.push(Math.round((performance.now() - t0) * 1000));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const cpu = process.cpuUsage(cpu0);
  const endedAt = Date.now();
  const traffic1 = await traffic();
  send(to, {
    type: 'client_done',
    node,
    ops,
    errors,
    errorSamples: [...errorSamples],
    latencies,
    startedAt,
    endedAt,
    cpuUs: cpu.user + cpu.system,
    framesOut: traffic1.frames - traffic0.frames,
    msgsOut: traffic1.msgs - traffic0.msgs,
  } satisfies ClientReport);
}
