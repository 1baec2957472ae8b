// A local cluster of node processes running the replicated services: used by `npm start --
// --cluster`, the demo and kill-and-restart scripts, bench:inventory and the cross-node tests.
// This process must already be a node (Node.start); every launched node joins it.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Global, type Pid, sleep } from '../../actors/index.ts';
import type { ServiceOptions } from '../../apps/rsm/replica.ts';
import { type LaunchedNode, launchNode, Node, spawnOn } from '../../transport/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';

export type Service = 'inventory' | 'seats';

export interface LocalClusterOptions {
  /** Node names; each node runs the replica of that name (default p1, p2, p3). */
  names?: string[];
  cookie: string;
  /** Where each node keeps its LMDB data (<dir>/<name>); default a fresh temp dir, removed at stop. */
  dataDir?: string;
  /** 'lmdb' (durable, default) or 'memory' (lost when a node dies). */
  storage?: 'lmdb' | 'memory';
  /** false: LMDB without waiting for the disk (unsafe; for benchmarks). */
  sync?: boolean;
  services?: Service[];
  /** The replicas' options, protocol included ({ protocol: 'epaxos' }). */
  replicaOptions?: ServiceOptions;
  heartbeatIntervalMs?: number;
  nodeDownAfterMs?: number;
  /** LOG_LEVEL of the nodes (default warn). */
  logLevel?: string;
  /** Node.js flags for the nodes (e.g. --cpu-prof). */
  execArgv?: string[];
  /** More modules each node loads for spawnOn, as `Name=/path/to/module.ts`. */
  load?: string[];
  /** More arguments for scripts/node.ts (e.g. ['--metrics-port', '0']). */
  args?: string[];
  /**
   * Where node `name` runs (default: this machine's loopback, a free port): a network namespace
   * (`ip netns exec`), the address it listens on and a port. A fixed port keeps the node's full
   * name across relaunches. Beyond loopback it needs `tls`.
   */
  placement?: (name: string) => NodePlacement;
  /** A certificate directory (`npm run certs`, with a certificate per node): TLS between nodes. */
  tls?: string;
}

export interface NodePlacement {
  netns?: string;
  host: string;
  port?: number;
}

const SERVICES_MODULE = `Services=${fileURLToPath(new URL('../../apps/services.ts', import.meta.url))}`;
const READY_TIMEOUT_MS = scaledMs(30_000);

export class LocalCluster {
  readonly nodes = new Map<string, LaunchedNode>();
  private readonly dataDir: string;
  private readonly ownDir: boolean;

  private constructor(
    private readonly options: Required<Pick<LocalClusterOptions, 'names' | 'services'>> &
      LocalClusterOptions,
  ) {
    this.ownDir = options.dataDir === undefined;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'actorcluster-'));
  }

  /** Launches one node per name, each running a replica of every service, and waits for them. */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster({
      names: ['p1', 'p2', 'p3'],
      services: ['inventory', 'seats'],
      ...options,
    });
    await Promise.all(cluster.options.names.map((name) => cluster.startNode(name)));
    return cluster;
  }

  get names(): string[] {
    return this.options.names;
  }

  /** The replicas' current pids, in the order of `names` (undefined while one is down). */
  pids(service: Service = 'inventory'): Array<Pid | undefined> {
    return this.names.map((n) => Global.whereis(`${service}:${n}`));
  }

  /**
   * Launches node `name` (again, on the same data) and starts its replicas (`services`: which;
   * none for a node that a replica is added to later, with addReplica).
   */
  async startNode(
    name: string,
    { services = this.options.services }: { services?: Service[] } = {},
  ): Promise<LaunchedNode> {
    const o = this.options;
    const place = o.placement?.(name);
    const node = await launchNode({
      name,
      netns: place?.netns,
      host: place?.host,
      port: place?.port,
      tls: o.tls,
      cookie: o.cookie,
      join: [Node.self()],
      load: [SERVICES_MODULE, ...(o.load ?? [])],
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      nodeDownAfterMs: o.nodeDownAfterMs,
      execArgv: o.execArgv,
      args: o.args,
      env: {
        LOG_LEVEL: o.logLevel ?? 'warn',
        ACTORCLUSTER_PAXOS_STORAGE: o.storage ?? 'lmdb',
        ACTORCLUSTER_DATA_DIR: join(this.dataDir, name),
        ACTORCLUSTER_NOSYNC: o.sync === false ? '1' : '0',
      },
    });
    this.nodes.set(name, node);
    for (const service of services) await this.startReplica(service, name);
    return node;
  }

  /**
   * Starts replica `name` of a service on its node and waits until it is up and caught up. A
   * replica added later (addReplica: not one of `names`) restarts as a joining one, given the
   * first replicas to ask; its snapshot says which configuration it is a member of.
   */
  async startReplica(service: Service, name: string): Promise<Pid> {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name} in this cluster`);
    const options = this.options.replicaOptions ?? {};
    const original = this.names.includes(name);
    await spawnOn(node.name, `Services.${service}`, [
      name,
      this.names,
      original ? options : { ...options, join: true },
    ]);
    return this.waitReplica(service, name);
  }

  /** Waits until replica `name` is registered (it registers once caught up). */
  async waitReplica(service: Service, name: string): Promise<Pid> {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const pid = Global.whereis(`${service}:${name}`);
      if (pid) return pid;
      if (Date.now() > deadline) throw new Error(`replica ${service}:${name} did not come up`);
      await sleep(20);
    }
  }

  /** Crashes node `name` (SIGKILL: no goodbye) and waits until the cluster has noticed. */
  async killNode(name: string): Promise<void> {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name} in this cluster`);
    node.kill('SIGKILL');
    await node.exited;
    this.nodes.delete(name);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (this.options.services.some((s) => Global.whereis(`${s}:${name}`))) {
      if (Date.now() > deadline) throw new Error(`the cluster did not notice ${name} is down`);
      await sleep(20);
    }
  }

  /**
   * Stops node `name` for good (its replica was removed, say): SIGTERM, SIGKILL if still up 10 s
   * later. Resolves with its exit code (0: a clean exit; null: killed).
   */
  async stopNode(name: string): Promise<number | null> {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name} in this cluster`);
    this.nodes.delete(name);
    return node.stop();
  }

  /** Stops every node (SIGTERM, SIGKILL after 5 s) and removes the data dir it made. */
  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop(5000)));
    this.nodes.clear();
    if (this.ownDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
