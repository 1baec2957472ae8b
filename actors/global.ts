// The Global registry: names that are unique across the cluster (Erlang's :global).
// The backend is node-local until the transport installs a cluster-wide one.
import { setGlobalLookup } from './api.ts';
import { ActorError, check } from './errors.ts';
import { kernel } from './kernel.ts';
import { Pid } from './pid.ts';

/** What a registry backend provides; the transport swaps in a cluster-wide one. */
export interface GlobalBackend {
  /** Registers `name` to `pid`; resolves false if another live process holds it. */
  register(name: string, pid: Pid): Promise<boolean>;
  /** Registers `name` to `pid`, taking it over from any current holder. */
  reRegister(name: string, pid: Pid): Promise<void>;
  unregister(name: string): Promise<void>;
  whereis(name: string): Pid | undefined;
  names(): string[];
}

/** The single-node backend: a map, with names released when their process dies. */
export class LocalGlobalBackend implements GlobalBackend {
  private readonly table = new Map<string, Pid>();

  constructor() {
    kernel.onDeath((pid) => {
      for (const [name, holder] of this.table) if (holder.equals(pid)) this.table.delete(name);
    });
  }

  async register(name: string, pid: Pid): Promise<boolean> {
    if (this.table.has(name)) return false;
    this.checkAlive(pid);
    this.table.set(name, pid);
    return true;
  }

  async reRegister(name: string, pid: Pid): Promise<void> {
    this.checkAlive(pid);
    this.table.set(name, pid);
  }

  async unregister(name: string): Promise<void> {
    this.table.delete(name);
  }

  whereis(name: string): Pid | undefined {
    return this.table.get(name);
  }

  names(): string[] {
    return [...this.table.keys()];
  }

  private checkAlive(pid: Pid): void {
    if (pid.node === kernel.nodeName && !kernel.lookup(pid)) {
      throw new ActorError('noproc', `cannot register ${pid} globally: it is not alive`);
    }
  }
}

let backend: GlobalBackend = new LocalGlobalBackend();
setGlobalLookup(backend);

/** Installs a registry backend (done by the transport when the node joins a cluster). */
export function setGlobalBackend(next: GlobalBackend): void {
  backend = next;
  setGlobalLookup(next);
}

function checkName(name: unknown): asserts name is string {
  check(
    typeof name === 'string' && name.length > 0,
    `a global name must be a non-empty string, got ${String(name)}`,
  );
}

function checkPid(pid: unknown): asserts pid is Pid {
  check(pid instanceof Pid, `expected a pid, got ${String(pid)}`);
}

/** Cluster-wide names. `register` resolves true, or false if the name is already held. */
export const Global = {
  async register(name: string, pid: Pid): Promise<boolean> {
    checkName(name);
    checkPid(pid);
    return await backend.register(name, pid);
  },
  /** Registers `name` to `pid` even if it is held (the old holder loses the name). */
  async reRegister(name: string, pid: Pid): Promise<void> {
    checkName(name);
    checkPid(pid);
    await backend.reRegister(name, pid);
  },
  async unregister(name: string): Promise<void> {
    checkName(name);
    await backend.unregister(name);
  },
  whereis(name: string): Pid | undefined {
    checkName(name);
    return backend.whereis(name);
  },
  registeredNames(): string[] {
    return backend.names();
  },
  /** Sends to a global name; throws `unknown_name` if it is not registered. */
  send(name: string, msg: unknown): void {
    checkName(name);
    const pid = backend.whereis(name);
    if (!pid)
      throw new ActorError('unknown_name', `no process is registered globally as '${name}'`);
    kernel.sendTo(pid, msg);
  },
};
