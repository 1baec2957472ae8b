// The public face of the transport: Node (start, connect, list, monitor), spawnOn, Faults.
// Node.start makes this Node.js process a named node and plugs the cluster into the runtime.
import { messageQueueLen, resume, self, setRemoteControl, suspend } from '../actors/api.ts';
import { ActorError, check } from '../actors/errors.ts';
import { setGlobalBackend } from '../actors/global.ts';
import { kernel } from '../actors/kernel.ts';
import { Pid } from '../actors/pid.ts';
import type { FaultSpec, LinkFaults } from './faults.ts';
import { ClusterGlobal } from './global.ts';
import { installTransportMetrics } from './metrics.ts';
import { lookupFunction, registeredModules, registerModule } from './modules.ts';
import { ClusterNode, type NodeEvent, type NodeOptions } from './node.ts';

export type { NameConflictMessage } from './global.ts';
export { type LaunchedNode, type LaunchOptions, launchNode } from './launcher.ts';
export type { LinkFaults, NodeEvent, NodeOptions };

let current: ClusterNode | null = null;
const nodeWatchers = new Map<string, Map<string, Pid>>();
const allWatchers = new Map<string, Pid>();

function node(): ClusterNode {
  if (!current)
    throw new ActorError(
      'invalid_argument',
      'this process is not a node yet: call Node.start({ name }) first',
    );
  return current;
}

function install(cluster: ClusterNode): void {
  kernel.rename(cluster.name, cluster.creation);
  current = cluster;
  installTransportMetrics(() => current);
  kernel.setBridge({ deliver: (to, signal) => cluster.sendWire(to, signal) });
  setGlobalBackend(new ClusterGlobal(cluster));
  const timeoutMs = cluster.settings.rpcTimeoutMs;
  setRemoteControl({
    suspend: (pid) =>
      cluster.rpc.call<boolean>(pid.node, 'proc', { op: 'suspend', pid }, timeoutMs),
    resume: (pid) => cluster.rpc.call<boolean>(pid.node, 'proc', { op: 'resume', pid }, timeoutMs),
    messageQueueLen: (pid) =>
      cluster.rpc.call<number | undefined>(pid.node, 'proc', { op: 'queue_len', pid }, timeoutMs),
  });
  cluster.rpc.handle('proc', async (args) => {
    const { op, pid } = args as { op: string; pid: Pid };
    check(pid instanceof Pid && pid.node === cluster.name, 'proc: not a pid of this node');
    if (op === 'suspend') return suspend(pid);
    if (op === 'resume') return resume(pid);
    if (op === 'queue_len') return messageQueueLen(pid);
    throw new ActorError('invalid_argument', `proc: unknown op '${op}'`);
  });
  cluster.rpc.handle('spawn', (args) => {
    const { fn, args: fnArgs, linkTo } = args as { fn: string; args: unknown[]; linkTo?: Pid };
    check(Array.isArray(fnArgs), 'spawn: args must be an array');
    const pid = kernel.spawn(lookupFunction(fn, cluster.name), fnArgs, { label: fn });
    // The link is made here, before the reply: an early exit reaches the caller after the pid.
    if (linkTo instanceof Pid) {
      const proc = kernel.lookup(pid);
      if (proc) kernel.link(proc, linkTo);
    }
    return pid;
  });
  cluster.rpc.handle('fault', (args) => {
    const { to, spec } = args as { to: string; spec: FaultSpec | null | 'clear' };
    if (spec === 'clear') cluster.clearFaults();
    else cluster.setFault(to, spec);
    return true;
  });
  cluster.rpc.handle('ping', () => 'pong');
  cluster.onEvent((event) => notifyWatchers(event));
  kernel.onDeath((pid) => {
    allWatchers.delete(pid.key);
    for (const watchers of nodeWatchers.values()) watchers.delete(pid.key);
  });
}

function notifyWatchers(event: NodeEvent): void {
  for (const pid of allWatchers.values()) kernel.sendTo(pid, { ...event });
  if (event.type !== 'nodedown') return;
  const watchers = nodeWatchers.get(event.node);
  if (!watchers) return;
  nodeWatchers.delete(event.node); // monitorNode is one-shot, as in Erlang
  for (const pid of watchers.values()) kernel.sendTo(pid, { ...event });
}

/** Nodes: one per Node.js process, linked by authenticated WebSockets into a full mesh. */
export const Node = {
  /**
   * Makes this process the node `name@host:port` and starts listening (port 0 picks one).
   * Call it before spawning processes. Resolves to the full node name.
   */
  async start(options: NodeOptions): Promise<string> {
    if (current)
      throw new ActorError('invalid_argument', `this process is already the node ${current.name}`);
    const cluster = await ClusterNode.listen(options);
    try {
      install(cluster);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster.name;
  },

  /** Closes every link and the listener. */
  async stop(): Promise<void> {
    if (!current) return;
    await current.stop();
  },

  /** This node's full name (`nonode` before start). */
  self(): string {
    return kernel.nodeName;
  },

  /** The nodes this node is connected to. */
  list(): string[] {
    return current ? current.connected() : [];
  },

  /**
   * Marks the next node-down of `name` as planned (you are stopping or killing that node on
   * purpose): it is logged at info instead of warn, and this node does not try to reconnect to
   * it (it may come back and dial in itself). No effect before start or for unknown nodes.
   */
  expectDown(name: string): void {
    current?.expectDown(name);
  },

  /** Connects to a node by full name (`p1@127.0.0.1:4001`); true once linked and authenticated. */
  connect(name: string): Promise<boolean> {
    return node().connect(name);
  },

  /**
   * Joins the cluster through one member, given by full name or as `host:port` (the node there
   * says its name in the handshake). Linked nodes tell each other every node they know, so one
   * member is enough to reach them all. Resolves to the member's full name; throws noconnection
   * (with why) if it cannot be reached.
   */
  join(target: string): Promise<string> {
    return node().join(target);
  },

  /** 'pong' if the node answers, 'pang' otherwise (Erlang's net_adm:ping). */
  async ping(name: string, timeoutMs = 3000): Promise<'pong' | 'pang'> {
    try {
      if (!(await node().connect(name))) return 'pang';
      return (await node().rpc.call(name, 'ping', null, timeoutMs)) === 'pong' ? 'pong' : 'pang';
    } catch (err) {
      if (err instanceof ActorError && err.code === 'invalid_argument') throw err;
      return 'pang';
    }
  },

  /**
   * The calling process gets `{ type: 'nodedown', node }` when `name` goes down (once), or at
   * once if it cannot be reached. `flag = false` cancels.
   */
  monitor(name: string, flag = true): void {
    const me = self();
    const cluster = node();
    const full = cluster.resolve(name);
    if (full === undefined) throw new ActorError('invalid_argument', `unknown node '${name}'`);
    if (!flag) {
      nodeWatchers.get(full)?.delete(me.key);
      return;
    }
    const watchers = nodeWatchers.get(full) ?? new Map<string, Pid>();
    nodeWatchers.set(full, watchers);
    watchers.set(me.key, me);
    if (!cluster.isUp(full)) {
      void cluster.connect(full).then((up) => {
        if (!up && nodeWatchers.get(full)?.delete(me.key))
          kernel.sendTo(me, { type: 'nodedown', node: full });
      });
    }
  },

  /** The calling process gets `{ type: 'nodeup' | 'nodedown', node }` for every node (until false). */
  monitorNodes(flag = true): void {
    const me = self();
    if (flag) allWatchers.set(me.key, me);
    else allWatchers.delete(me.key);
  },

  /** Makes `exports`' functions spawnable from other nodes as `name.fn`. */
  registerModule,
  registeredModules,

  /** Fault-injection rules in force on this node's outgoing links. */
  faultRules(): Record<string, LinkFaults> {
    return current ? current.faultRules() : {};
  },
};

/**
 * Spawns `Module.fn(...args)` on `node` (the BEAM's spawn(Node, M, F, A)); the module must be
 * registered there. With `{ link: true }` the new process is linked to the caller before it runs.
 */
export async function spawnOn(
  nodeName: string,
  fn: string,
  args: unknown[] = [],
  options: { link?: boolean } = {},
): Promise<Pid> {
  check(Array.isArray(args), 'spawnOn: args must be an array');
  const cluster = node();
  const full = cluster.resolve(nodeName);
  if (full === undefined) throw new ActorError('invalid_argument', `unknown node '${nodeName}'`);
  if (full === cluster.name) {
    const f = lookupFunction(fn, cluster.name);
    return kernel.spawn(f, args, { label: fn, link: options.link });
  }
  return cluster.rpc.call<Pid>(
    full,
    'spawn',
    { fn, args, linkTo: options.link ? self() : undefined },
    cluster.settings.rpcTimeoutMs,
  );
}

async function installFault(
  from: string,
  to: string,
  spec: FaultSpec | null | 'clear',
): Promise<void> {
  const cluster = node();
  const source = cluster.resolve(from);
  const target = cluster.resolve(to) ?? to;
  if (source === undefined) throw new ActorError('invalid_argument', `unknown node '${from}'`);
  if (source === cluster.name) {
    if (spec === 'clear') cluster.clearFaults();
    else cluster.setFault(target, spec);
    return;
  }
  await cluster.rpc.call(source, 'fault', { to: target, spec }, cluster.settings.rpcTimeoutMs);
}

function checkP(p: number): void {
  check(
    typeof p === 'number' && p >= 0 && p <= 1,
    `a probability must be in [0, 1], got ${String(p)}`,
  );
}

/**
 * Fault injection at the link layer, usable from any node (rules are installed on the node
 * that sends). Each rule applies from `a` to `b`, and also from `b` to `a` unless `oneWay`.
 */
export const Faults = {
  /** Drops every frame between a and b (both ways unless oneWay). */
  async partition(a: string, b: string, options: { oneWay?: boolean } = {}): Promise<void> {
    await installFault(a, b, { type: 'partition' });
    if (!options.oneWay) await installFault(b, a, { type: 'partition' });
  },
  /** Removes every rule between a and b, both ways. */
  async heal(a: string, b: string): Promise<void> {
    await installFault(a, b, null);
    await installFault(b, a, null);
  },
  /** Delays frames by delayMs +- jitterMs (order is kept, as on TCP). */
  async delay(
    a: string,
    b: string,
    options: { delayMs: number; jitterMs?: number; oneWay?: boolean },
  ): Promise<void> {
    const jitterMs = options.jitterMs ?? 0;
    check(typeof options.delayMs === 'number' && options.delayMs >= 0, 'delayMs must be >= 0');
    check(typeof jitterMs === 'number' && jitterMs >= 0, 'jitterMs must be >= 0');
    const spec: FaultSpec = { type: 'delay', delayMs: options.delayMs, jitterMs };
    await installFault(a, b, spec);
    if (!options.oneWay) await installFault(b, a, spec);
  },
  /** Drops each process signal with probability p. */
  async drop(a: string, b: string, p: number, options: { oneWay?: boolean } = {}): Promise<void> {
    checkP(p);
    await installFault(a, b, { type: 'drop', p });
    if (!options.oneWay) await installFault(b, a, { type: 'drop', p });
  },
  /** Sends each process signal twice with probability p. */
  async duplicate(
    a: string,
    b: string,
    p: number,
    options: { oneWay?: boolean } = {},
  ): Promise<void> {
    checkP(p);
    await installFault(a, b, { type: 'duplicate', p });
    if (!options.oneWay) await installFault(b, a, { type: 'duplicate', p });
  },
  /** Clears every rule on the given nodes (default: this node and every connected one). */
  async clear(nodes?: string[]): Promise<void> {
    const targets = nodes ?? [kernel.nodeName, ...Node.list()];
    await Promise.all(targets.map((n) => installFault(n, n, 'clear')));
  },
};

export { registerModule };
