// Hosts on this machine: Linux network namespaces, each with one address on a private subnet,
// joined by veth pairs to a bridge in a hub namespace. A host's link can be taken down (a
// partition of that host) and up again. Needs root and iproute2 (`ip`); nothing is added to the
// machine's own namespace, and every namespace made is deleted by destroy() or at exit. A process
// killed with SIGKILL runs no exit hook: its namespaces carry its pid in their names, and the next
// createHosts deletes those whose maker is dead (sweepStale).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export interface Host {
  /** The namespace's name (`ip netns exec NAME ...`). */
  ns: string;
  /** Its address on the hosts' subnet. */
  address: string;
}

export interface Hosts {
  /** The prefix of every namespace made: `ac`, the maker's pid, `x` and 6 hex digits. */
  tag: string;
  /** The hub namespace holding the bridge (see setHostLink). */
  hub: string;
  hosts: Host[];
  /** Takes host `i`'s link down: it can reach nobody, nobody can reach it. */
  cut(i: number): void;
  /** Brings host `i`'s link back up. */
  heal(i: number): void;
  /** Deletes every namespace made (their links go with them). */
  destroy(): void;
}

/** The subnet the hosts' addresses are on (inside the namespaces only). */
export const HOSTS_SUBNET = '10.213.0';

const ip = (...args: string[]): string =>
  execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Why hosts cannot be made here (not root, no `ip`, no namespaces), or null if they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'network namespaces need root (run as root, as CI does)';
  const probe = `acprobe${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
  } catch (err) {
    const e = err as { code?: string; stderr?: string; message: string };
    if (e.code === 'ENOENT') return "iproute2's ip command is not installed";
    return `cannot make a network namespace: ${(e.stderr || e.message).trim()}`;
  }
  try {
    ip('netns', 'del', probe);
  } catch {}
  return null;
}

/**
 * Takes host `i`'s link on the bridge in namespace `hub` down (up = false) or up: what cut(i)
 * and heal(i) do, for a process that did not make the hosts (it is given the hub's name).
 */
export function setHostLink(hub: string, i: number, up: boolean): void {
  if (!Number.isInteger(i) || i < 1) throw new Error(`no host ${i}`);
  ip('-n', hub, 'link', 'set', `port${i}`, up ? 'up' : 'down');
}

/** The names of the machine's network namespaces (`ip netns list`). */
export function namespaces(): string[] {
  return ip('netns', 'list')
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter(Boolean);
}

/** A namespace made here: its maker's pid is in its name. */
const MADE_HERE = /^ac(\d+)x[0-9a-f]{6}-/;

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
};

/**
 * Deletes the namespaces made here by a process that is dead (killed with SIGKILL, so its exit
 * hook never ran); returns their names. A live maker's namespaces are left alone.
 */
export function sweepStale(): string[] {
  const removed: string[] = [];
  for (const ns of namespaces()) {
    const m = MADE_HERE.exec(ns);
    if (!m || alive(Number(m[1]))) continue;
    try {
      ip('netns', 'del', ns);
      removed.push(ns);
    } catch {}
  }
  return removed;
}

const live = new Set<string>();
let exitHook = false;

/** Makes `count` hosts (h1.. with addresses 10.213.0.1..) on one bridge. */
export function createHosts(count: number): Hosts {
  if (!Number.isInteger(count) || count < 1 || count > 200)
    throw new Error(`hosts: count must be 1..200, got ${count}`);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const ns of live) {
        try {
          ip('netns', 'del', ns);
        } catch {}
      }
    });
  }
  sweepStale();
  const tag = `ac${process.pid}x${randomBytes(3).toString('hex')}`;
  const hub = `${tag}-hub`;
  const made: string[] = [];
  const add = (ns: string) => {
    ip('netns', 'add', ns);
    made.push(ns);
    live.add(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  };
  const destroy = () => {
    for (const ns of made.splice(0).reverse()) {
      live.delete(ns);
      try {
        ip('netns', 'del', ns);
      } catch {}
    }
  };
  try {
    add(hub);
    ip('-n', hub, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', hub, 'link', 'set', 'br0', 'up');
    const hosts: Host[] = [];
    for (let i = 1; i <= count; i++) {
      const ns = `${tag}-h${i}`;
      add(ns);
      // Interface names are per namespace: eth0 in the host, port<i> on the hub's bridge.
      ip(
        'link',
        'add',
        'eth0',
        'netns',
        ns,
        'type',
        'veth',
        'peer',
        'name',
        `port${i}`,
        'netns',
        hub,
      );
      const address = `${HOSTS_SUBNET}.${i}`;
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', hub, 'link', 'set', `port${i}`, 'master', 'br0');
      ip('-n', hub, 'link', 'set', `port${i}`, 'up');
      hosts.push({ ns, address });
    }
    const link = (i: number, up: boolean) => {
      if (!(i >= 1 && i <= count)) throw new Error(`no host ${i} (1..${count})`);
      setHostLink(hub, i, up);
    };
    return {
      tag,
      hub,
      hosts,
      cut: (i) => link(i, false),
      heal: (i) => link(i, true),
      destroy,
    };
  } catch (err) {
    destroy();
    throw err;
  }
}
