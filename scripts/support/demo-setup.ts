// Replicas for the demo scripts: in this process (default), or one per node process (--cluster).
import { randomBytes } from 'node:crypto';
import { Global, isAlive, kill, type Pid, sleep } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { SeatReserve } from '../../apps/seats/index.ts';
import { Node } from '../../transport/index.ts';
import { LocalCluster, type Service } from './local-cluster.ts';
import { useShortLogs } from './short-log.ts';

export interface Replicas {
  names: string[];
  pids: Pid[];
  /** Kills replica `name`: the actor in-process, the whole node process (SIGKILL) with --cluster. */
  kill(name: string): Promise<void>;
  stop(): Promise<void>;
}

/** Starts 3 replicas p1..p3 of `service`, here or in 3 node processes. */
export async function startReplicas(service: Service, inCluster: boolean): Promise<Replicas> {
  const names = ['p1', 'p2', 'p3'];
  // Demos print their own lines; runtime logs only for errors unless LOG_LEVEL says otherwise.
  useShortLogs('error');
  if (!inCluster) {
    const start = service === 'inventory' ? InventoryServer.start : SeatReserve.start;
    const pids = names.map((n) => start(n, names));
    await waitRegistered(service, names);
    return {
      names,
      pids,
      async kill(name) {
        const pid = pids[names.indexOf(name)]!;
        kill(pid);
        while (isAlive(pid) || Global.whereis(`${service}:${name}`)) await sleep(5);
      },
      async stop() {
        for (const pid of pids) kill(pid);
      },
    };
  }
  const cookie = randomBytes(16).toString('hex');
  await Node.start({ name: 'demo', cookie });
  const cluster = await LocalCluster.start({ names, cookie, services: [service] });
  return {
    names,
    pids: cluster.pids(service) as Pid[],
    kill: (name) => cluster.killNode(name),
    async stop() {
      await cluster.stop();
      await Node.stop();
    },
  };
}

async function waitRegistered(service: Service, names: string[]): Promise<void> {
  while (!names.every((n) => Global.whereis(`${service}:${n}`))) await sleep(5);
}

/** Prints the message and exits 1: a demonstrated property did not hold. */
export function fail(message: string): never {
  console.log(`FAILED: ${message}`);
  process.exit(1);
}
