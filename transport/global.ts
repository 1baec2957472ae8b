// The cluster-wide Global registry: every node holds a replica of the name table; registering
// locks the name on every connected node, then commits everywhere (as Erlang's :global does).
import { ActorError } from '../actors/errors.ts';
import type { GlobalBackend } from '../actors/global.ts';
import { kernel } from '../actors/kernel.ts';
import { logger } from '../actors/log.ts';
import { Pid } from '../actors/pid.ts';
import type { ClusterNode } from './node.ts';

/** A lock left by a registrant that vanished mid-protocol expires after this. */
const LOCK_TTL_MS = 5000;
/** Own names are re-sent to every peer every this many heartbeat intervals (anti-entropy). */
const ANTI_ENTROPY_HEARTBEATS = 2;
/** Registration attempts under lock contention before giving up with `timeout`. */
const LOCK_ATTEMPTS_MAX = 30;

interface Lock {
  owner: string;
  token: number;
  expiresAtMs: number;
}

type LockReply = { granted: boolean; holder: Pid | null };

/** Message sent to a process that lost its global name in a conflict after a partition healed. */
export interface NameConflictMessage {
  type: 'global_name_conflict';
  name: string;
  winner: Pid;
}

export class ClusterGlobal implements GlobalBackend {
  private readonly node: ClusterNode;
  private readonly table = new Map<string, Pid>();
  private readonly locks = new Map<string, Lock>();
  private nextToken = 1;

  constructor(node: ClusterNode) {
    this.node = node;
    const rpc = node.rpc;
    rpc.handle('g_lock', (args, from) =>
      this.onLock(args as { name: string; token: number }, from),
    );
    rpc.handle('g_commit', (args, from) =>
      this.onCommit(args as { name: string; token: number; pid: Pid | null }, from),
    );
    rpc.handle('g_release', (args, from) =>
      this.onRelease(args as { name: string; token: number }, from),
    );
    rpc.handle('g_drop', (args) => this.onDrop(args as { name: string; pid: Pid }));
    rpc.handle('g_sync', (args) => this.onSync(args as { entries: Array<[string, Pid]> }));
    kernel.onDeath((pid) => this.onLocalDeath(pid));
    node.onEvent((event) => {
      if (event.type === 'nodedown') this.onNodeDown(event.node);
    });
    node.onPeerUp((peer) => this.syncTo(peer));
    // Anti-entropy: the sync sent when a link comes up can be lost (a one-way cut still in
    // place drops it, and nothing else would send it again), so every node re-sends its own
    // names to every peer now and then. A peer's table converges within one interval of a heal.
    const everyMs = Math.max(50, node.settings.heartbeatIntervalMs * ANTI_ENTROPY_HEARTBEATS);
    setInterval(() => {
      for (const peer of node.connected()) this.syncTo(peer);
    }, everyMs).unref();
  }

  /** Sends this node's own names (held by its processes) to `peer`, to merge into its table. */
  private syncTo(peer: string): void {
    const entries = [...this.table].filter(([, pid]) => pid.node === this.node.name);
    if (entries.length > 0) this.node.rpc.notify(peer, 'g_sync', { entries });
  }

  whereis(name: string): Pid | undefined {
    return this.table.get(name);
  }

  names(): string[] {
    return [...this.table.keys()];
  }

  register(name: string, pid: Pid): Promise<boolean> {
    this.checkAlive(pid);
    return this.transact(name, pid, false);
  }

  async reRegister(name: string, pid: Pid): Promise<void> {
    this.checkAlive(pid);
    await this.transact(name, pid, true);
  }

  async unregister(name: string): Promise<void> {
    await this.transact(name, null, true);
  }

  private checkAlive(pid: Pid): void {
    if (pid.node === kernel.nodeName && !kernel.lookup(pid)) {
      throw new ActorError('noproc', `cannot register ${pid} globally: it is not alive`);
    }
  }

  /**
   * Locks `name` on every node this one is connected to (itself included), then commits
   * `pid` (or removal, for null) everywhere. Without `overwrite`, a held name means false.
   */
  private async transact(name: string, pid: Pid | null, overwrite: boolean): Promise<boolean> {
    const timeoutMs = this.node.settings.rpcTimeoutMs;
    for (let attempt = 0; attempt < LOCK_ATTEMPTS_MAX; attempt++) {
      if (!overwrite && this.table.has(name)) return false;
      const nodes = [this.node.name, ...this.node.connected()];
      const token = this.nextToken++;
      const replies = await Promise.allSettled(
        nodes.map((n) => this.node.rpc.call<LockReply>(n, 'g_lock', { name, token }, timeoutMs)),
      );
      const granted = nodes.filter((_, i) => {
        const r = replies[i]!;
        return r.status === 'fulfilled' && r.value.granted;
      });
      if (granted.length === nodes.length) {
        const held = replies.some((r) => r.status === 'fulfilled' && r.value.holder !== null);
        if (held && !overwrite) {
          this.releaseAll(granted, name, token);
          return false;
        }
        await Promise.allSettled(
          nodes.map((n) => this.node.rpc.call(n, 'g_commit', { name, token, pid }, timeoutMs)),
        );
        // Peers that connected during the transaction got the table before this commit: tell them.
        for (const peer of this.node.connected()) {
          if (!nodes.includes(peer)) this.node.rpc.notify(peer, 'g_commit', { name, token, pid });
        }
        return true;
      }
      this.releaseAll(granted, name, token);
      // Contention: back off a random, growing while before trying again.
      const waitMs = (1 + Math.floor(this.node.random01() * 10)) * (attempt + 1);
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
    throw new ActorError('timeout', `could not lock the global name '${name}' (contention)`);
  }

  private releaseAll(nodes: string[], name: string, token: number): void {
    for (const n of nodes) this.node.rpc.notify(n, 'g_release', { name, token });
  }

  private onLock({ name, token }: { name: string; token: number }, from: string): LockReply {
    const now = performance.now();
    const lock = this.locks.get(name);
    if (lock && lock.owner !== from && lock.expiresAtMs > now)
      return { granted: false, holder: null };
    this.locks.set(name, { owner: from, token, expiresAtMs: now + LOCK_TTL_MS });
    return { granted: true, holder: this.table.get(name) ?? null };
  }

  private onCommit(
    { name, token, pid }: { name: string; token: number; pid: Pid | null },
    from: string,
  ): boolean {
    if (pid instanceof Pid) this.table.set(name, pid);
    else this.table.delete(name);
    const lock = this.locks.get(name);
    if (lock && lock.owner === from && lock.token === token) this.locks.delete(name);
    return true;
  }

  private onRelease({ name, token }: { name: string; token: number }, from: string): boolean {
    const lock = this.locks.get(name);
    if (lock && lock.owner === from && lock.token === token) this.locks.delete(name);
    return true;
  }

  /** A process died on its node: that node tells everyone its names are free. */
  private onLocalDeath(pid: Pid): void {
    for (const [name, holder] of this.table) {
      if (!holder.equals(pid)) continue;
      this.table.delete(name);
      for (const peer of this.node.connected()) this.node.rpc.notify(peer, 'g_drop', { name, pid });
    }
  }

  private onDrop({ name, pid }: { name: string; pid: Pid }): boolean {
    if (this.table.get(name)?.equals(pid)) this.table.delete(name);
    return true;
  }

  /** Names held by processes of a node that went down are released; its locks too. */
  private onNodeDown(node: string): void {
    for (const [name, pid] of this.table) if (pid.node === node) this.table.delete(name);
    for (const [name, lock] of this.locks) if (lock.owner === node) this.locks.delete(name);
  }

  /** Merges a peer's names. A name held by two processes keeps one, the same one on both sides. */
  private onSync({ entries }: { entries: Array<[string, Pid]> }): boolean {
    for (const [name, pid] of entries) {
      if (!(pid instanceof Pid)) continue;
      const current = this.table.get(name);
      if (!current || current.equals(pid)) {
        this.table.set(name, pid);
        continue;
      }
      const winner = wins(current, pid) ? current : pid;
      const loser = winner === current ? pid : current;
      this.table.set(name, winner);
      logger().warn(
        { name, winner: String(winner), loser: String(loser) },
        'global name conflict resolved',
      );
      if (loser.node === kernel.nodeName) {
        const conflict: NameConflictMessage = { type: 'global_name_conflict', name, winner };
        kernel.sendTo(loser, conflict);
      }
    }
    return true;
  }
}

/** The deterministic winner of a name conflict: the pid of the smaller node name, then id. */
function wins(a: Pid, b: Pid): boolean {
  if (a.node !== b.node) return a.node < b.node;
  return a.id < b.id;
}
