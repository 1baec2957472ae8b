// The Elixir-style process API: spawn, send, receive, link, monitor, exit, names, timers.
// Each function acts for the calling process (self()), found through AsyncLocalStorage.
import { ActorError, check, ExitSignal } from './errors.ts';
import { kernel, type SpawnOptions, TIMEOUT, type Timeout } from './kernel.ts';
import type { DownMessage, ExitMessage } from './messages.ts';
import { Pid, type Ref } from './pid.ts';
import type { Matcher, ProcStatus } from './proc.ts';

export { TIMEOUT, type Timeout };

/** Where a message can go: a pid, a local name, a global name, or a name on a given node. */
export type Dest = Pid | string | { global: string } | readonly [name: string, node: string];

/**
 * What `receive` matches: a predicate, or a pattern object whose keys must all equal the
 * message's (pids and refs compare by value, nested plain objects match recursively).
 */
export type Pattern<T = unknown> =
  | ((msg: unknown) => msg is T)
  | ((msg: unknown) => boolean)
  | object;

/** Handlers the global registry plugs in (cluster-wide once the transport is up). */
export interface GlobalLookup {
  whereis(name: string): Pid | undefined;
}
let globalLookup: GlobalLookup = { whereis: () => undefined };
export function setGlobalLookup(lookup: GlobalLookup): void {
  globalLookup = lookup;
}

/** The pid of the calling process (the top-level process outside any process). */
export function self(): Pid {
  return kernel.current().pid;
}

/** The name of this node. */
export function nodeName(): string {
  return kernel.nodeName;
}

/** Starts a process running `fn(...args)`. It exits `normal` when `fn` returns, or with the
 * thrown error as reason. Returns at once; the process starts on a later event-loop turn. */
export function spawn<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): Pid {
  return kernel.spawn(fn, args);
}

/** As spawn, and links the new process to the caller before it runs. */
export function spawnLink<A extends unknown[]>(fn: (...args: A) => unknown, ...args: A): Pid {
  return kernel.spawn(fn, args, { link: true });
}

/** As spawn, and monitors it; returns the pid and the monitor reference. */
export function spawnMonitor<A extends unknown[]>(
  fn: (...args: A) => unknown,
  ...args: A
): [Pid, Ref] {
  const pid = kernel.spawn(fn, args);
  return [pid, kernel.monitor(kernel.current(), pid)];
}

/** Spawn with options: `{ link, trapExit, label, name }` (name registers it locally). */
export function spawnOpt<A extends unknown[]>(
  fn: (...args: A) => unknown,
  args: A,
  options: SpawnOptions & { name?: string },
): Pid {
  if (options.name !== undefined) {
    checkName(options.name);
    const holder = kernel.whereis(options.name);
    if (holder) {
      throw new ActorError(
        'name_taken',
        `the name '${options.name}' is already registered to ${holder}`,
      );
    }
  }
  const pid = kernel.spawn(fn, args, options);
  if (options.name !== undefined) kernel.register(options.name, pid);
  return pid;
}

/**
 * Sends `msg` to `dest`. Sending to a dead pid, or to a name on another node that is not
 * registered there, silently drops the message (BEAM semantics); sending to a local or
 * global name that is not registered throws `unknown_name`.
 */
export function send(dest: Dest, msg: unknown): void {
  const me = kernel.current();
  if (!me.alive) return; // a killed process's leftover code sends nothing
  if (dest instanceof Pid) {
    kernel.sendTo(dest, msg, me);
    return;
  }
  if (Array.isArray(dest) && dest[1] !== kernel.nodeName) {
    const [name, node] = dest as readonly [string, string];
    check(
      typeof name === 'string' && typeof node === 'string',
      `invalid destination [${String(name)}, ${String(node)}]`,
    );
    kernel.sendNamed(name, node, msg);
    return;
  }
  kernel.sendTo(resolveDest(dest, 'send to'), msg, me);
}

/**
 * Resolves a destination to a pid. Throws `unknown_name` for an unregistered local or
 * global name. A `[name, node]` pair on another node cannot be resolved here: use send.
 */
export function resolveDest(dest: Dest, what: string): Pid {
  if (dest instanceof Pid) return dest;
  if (typeof dest === 'string') {
    const pid = kernel.whereis(dest);
    if (!pid)
      throw new ActorError(
        'unknown_name',
        `cannot ${what} '${dest}': no process is registered under that name`,
      );
    return pid;
  }
  if (Array.isArray(dest)) {
    const [name, node] = dest as readonly [string, string];
    check(
      typeof name === 'string' && typeof node === 'string',
      `invalid destination [${String(name)}, ${String(node)}]`,
    );
    if (node === kernel.nodeName) return resolveDest(name, what);
    throw new ActorError(
      'not_local',
      `cannot ${what} [${name}, ${node}] here; use send for remote names`,
    );
  }
  if (
    typeof dest === 'object' &&
    dest !== null &&
    typeof (dest as { global?: unknown }).global === 'string'
  ) {
    const name = (dest as { global: string }).global;
    const pid = globalLookup.whereis(name);
    if (!pid)
      throw new ActorError('unknown_name', `cannot ${what} global '${name}': not registered`);
    return pid;
  }
  throw new ActorError('invalid_argument', `not a destination: ${String(dest)}`);
}

/**
 * Waits for the first message in the mailbox that matches `pattern` (any message if none) and
 * removes it; other messages stay in order. With `timeoutMs`, resolves to TIMEOUT if nothing
 * matches in time (Elixir's `receive ... after`).
 */
export function receive<T = unknown>(pattern?: Pattern<T> | null): Promise<T>;
export function receive<T = unknown>(
  pattern: Pattern<T> | null | undefined,
  timeoutMs: number,
): Promise<T | Timeout>;
export function receive(pattern?: Pattern | null, timeoutMs?: number): Promise<unknown> {
  const proc = kernel.current();
  if (pattern === undefined && timeoutMs === undefined) {
    return kernel.receive(proc, null, Number.POSITIVE_INFINITY); // the common case, unchecked
  }
  if (
    timeoutMs !== undefined &&
    (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)
  ) {
    return Promise.reject(
      new ActorError(
        'invalid_argument',
        `receive timeout must be a non-negative number of milliseconds, got ${String(timeoutMs)}`,
      ),
    );
  }
  let matcher: Matcher | null;
  try {
    matcher = toMatcher(pattern);
  } catch (err) {
    return Promise.reject(err);
  }
  return kernel.receive(proc, matcher, timeoutMs ?? Number.POSITIVE_INFINITY);
}

/** Removes and returns every message in the caller's mailbox. */
export function flush(): unknown[] {
  return kernel.flush(kernel.current());
}

/** Waits `ms` milliseconds (a receive that matches nothing; a suspended process stays put). */
export async function sleep(ms: number): Promise<void> {
  check(
    typeof ms === 'number' && ms >= 0 && !Number.isNaN(ms),
    `sleep needs a non-negative number of ms, got ${String(ms)}`,
  );
  const proc = kernel.current();
  if (proc.waiter !== null) {
    // Someone else is receiving for this process (e.g. concurrent code at the top level).
    await new Promise((resolve) => setTimeout(resolve, ms));
    return;
  }
  await kernel.receive(proc, () => false, ms);
}

/** Links the caller and `pid`: when either exits abnormally, the other gets the exit signal. */
export function link(pid: Pid): void {
  checkPid(pid, 'link');
  kernel.link(kernel.current(), pid);
}

export function unlink(pid: Pid): void {
  checkPid(pid, 'unlink');
  kernel.unlink(kernel.current(), pid);
}

/**
 * Monitors `target`; when it dies (or if it is already dead) the caller receives
 * `{ type: 'DOWN', ref, pid, reason }` (reason `noproc` if it did not exist).
 */
export function monitor(target: Pid | string | { global: string }): Ref {
  const proc = kernel.current();
  if (target instanceof Pid) return kernel.monitor(proc, target);
  if (typeof target === 'string') {
    const pid = kernel.whereis(target);
    return pid ? kernel.monitor(proc, pid) : kernel.monitorMissing(proc, target);
  }
  if (typeof target === 'object' && target !== null && typeof target.global === 'string') {
    const pid = globalLookup.whereis(target.global);
    return pid ? kernel.monitor(proc, pid) : kernel.monitorMissing(proc, target.global);
  }
  throw new ActorError('invalid_argument', `cannot monitor ${String(target)}`);
}

/** Removes a monitor. With `{ flush: true }` also drops its DOWN message if already queued. */
export function demonitor(ref: Ref, options: { flush?: boolean } = {}): boolean {
  return kernel.demonitor(kernel.current(), ref, options.flush ?? false);
}

/** Sets whether the caller traps exits (exit signals become EXIT messages); returns the old value. */
export function trapExit(flag: boolean): boolean {
  const proc = kernel.current();
  const old = proc.trapExit;
  proc.trapExit = flag;
  return old;
}

/**
 * `exit(pid, reason)` sends an exit signal (`'kill'` cannot be trapped; `'normal'` is ignored
 * unless trapped). `exit(reason)` ends the calling process with `reason` (it throws).
 */
export function exit(reason: unknown): never;
export function exit(dest: Pid | string, reason: unknown): void;
export function exit(...args: [unknown] | [Pid | string, unknown]): void {
  if (args.length === 1) throw new ExitSignal(args[0]);
  const [dest, reason] = args;
  const me = kernel.current();
  if (!me.alive) return;
  const pid = dest instanceof Pid ? dest : resolveDest(dest, 'exit');
  kernel.exit(me.pid, pid, reason);
}

/** Kills a process (`exit(pid, 'kill')`): it dies with reason `killed`, trapping or not. */
export function kill(dest: Pid | string): void {
  exit(dest, 'kill');
}

/** True if the local process is alive. Pids of other nodes throw `not_local`. */
export function isAlive(pid: Pid): boolean {
  checkPid(pid, 'isAlive');
  if (pid.node !== kernel.nodeName) {
    throw new ActorError(
      'not_local',
      `isAlive answers for local pids only; ${pid} is on ${pid.node}`,
    );
  }
  return kernel.lookup(pid) !== undefined;
}

/** Handlers the transport plugs in for suspend/resume/messageQueueLen of remote pids. */
export interface RemoteControl {
  suspend(pid: Pid): Promise<boolean>;
  resume(pid: Pid): Promise<boolean>;
  messageQueueLen(pid: Pid): Promise<number | undefined>;
}
let remoteControl: RemoteControl | null = null;
export function setRemoteControl(control: RemoteControl | null): void {
  remoteControl = control;
}

function remote(pid: Pid, op: string): RemoteControl {
  if (!remoteControl)
    throw new ActorError('noconnection', `cannot ${op} ${pid}: node ${pid.node} is not connected`);
  return remoteControl;
}

/**
 * Suspends a process: it keeps receiving messages but does not run until resumed (calls
 * nest: each suspend needs a resume). Resolves to false if the process is not alive.
 */
export async function suspend(pid: Pid): Promise<boolean> {
  checkPid(pid, 'suspend');
  if (pid.node !== kernel.nodeName) return remote(pid, 'suspend').suspend(pid);
  const proc = kernel.lookup(pid);
  if (!proc) return false;
  check(proc !== kernel.current(), 'a process cannot suspend itself');
  kernel.suspend(proc);
  return true;
}

/** Resumes a suspended process. Resolves to false if it was not alive or not suspended. */
export async function resume(pid: Pid): Promise<boolean> {
  checkPid(pid, 'resume');
  if (pid.node !== kernel.nodeName) return remote(pid, 'resume').resume(pid);
  const proc = kernel.lookup(pid);
  return proc ? kernel.resume(proc) : false;
}

/** Messages waiting in a process's mailbox, or undefined if it is not alive. */
export async function messageQueueLen(pid: Pid = self()): Promise<number | undefined> {
  checkPid(pid, 'messageQueueLen');
  if (pid.node !== kernel.nodeName) return remote(pid, 'read the mailbox of').messageQueueLen(pid);
  return kernel.lookup(pid)?.queueLength();
}

export interface ProcessInfo {
  pid: Pid;
  label: string;
  name: string | undefined;
  status: ProcStatus;
  messageQueueLen: number;
  links: Pid[];
  monitoredBy: Pid[];
  trapExit: boolean;
  suspended: boolean;
  /** The process that spawned it (undefined for a top-level process). */
  parent: Pid | undefined;
}

/** A snapshot of a local process, or undefined if it is not alive. */
export function processInfo(pid: Pid): ProcessInfo | undefined {
  checkPid(pid, 'processInfo');
  const proc = kernel.lookup(pid);
  if (!proc) return undefined;
  return {
    pid: proc.pid,
    label: proc.label,
    name: proc.name,
    status: proc.status(),
    messageQueueLen: proc.queueLength(),
    links: [...proc.links.values()],
    monitoredBy: [...proc.monitoredBy.values()].map((m) => m.watcher),
    trapExit: proc.trapExit,
    suspended: proc.suspended,
    parent: proc.parent,
  };
}

/** The pids of every live process on this node. */
export function processes(): Pid[] {
  return kernel.livePids();
}

// ---- local names -------------------------------------------------------------------------

/** Registers a local process under `name` (one name per process, one process per name). */
export function register(name: string, pid: Pid): void {
  checkName(name);
  checkPid(pid, 'register');
  kernel.register(name, pid);
}

export function unregister(name: string): void {
  checkName(name);
  kernel.unregister(name);
}

export function whereis(name: string): Pid | undefined {
  checkName(name);
  return kernel.whereis(name);
}

export function registered(): string[] {
  return kernel.registeredNames();
}

// ---- timers ------------------------------------------------------------------------------

/** Sends `msg` to `dest` after `delayMs`; returns a reference for cancelTimer. A timer to a
 * pid is cancelled if that process dies; a name is looked up when the timer fires. */
export function sendAfter(dest: Dest, msg: unknown, delayMs: number): Ref {
  check(
    typeof delayMs === 'number' && delayMs >= 0 && Number.isFinite(delayMs),
    `sendAfter needs a finite non-negative delay, got ${String(delayMs)}`,
  );
  checkDest(dest);
  const target = dest instanceof Pid ? dest : undefined;
  return kernel.sendAfter(
    () => {
      try {
        send(dest, msg);
      } catch {
        // the name was unregistered before the timer fired: the message is dropped
      }
    },
    target,
    delayMs,
  );
}

/** Cancels a timer; returns the milliseconds it had left, or false if it had fired. */
export function cancelTimer(ref: Ref): number | false {
  return kernel.cancelTimer(ref);
}

// ---- helpers -----------------------------------------------------------------------------

function checkPid(pid: unknown, op: string): asserts pid is Pid {
  if (!(pid instanceof Pid))
    throw new ActorError('invalid_argument', `${op} expects a pid, got ${describe(pid)}`);
}

function checkName(name: unknown): asserts name is string {
  check(
    typeof name === 'string' && name.length > 0,
    `a process name must be a non-empty string, got ${describe(name)}`,
  );
}

function checkDest(dest: unknown): void {
  if (dest instanceof Pid) return;
  if (typeof dest === 'string' && dest.length > 0) return;
  if (
    Array.isArray(dest) &&
    dest.length === 2 &&
    typeof dest[0] === 'string' &&
    typeof dest[1] === 'string'
  )
    return;
  if (
    typeof dest === 'object' &&
    dest !== null &&
    typeof (dest as { global?: unknown }).global === 'string'
  )
    return;
  throw new ActorError('invalid_argument', `not a destination: ${describe(dest)}`);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return `${typeof value} ${String(value)}`;
}

function toMatcher(pattern: Pattern | null | undefined): Matcher | null {
  if (pattern === undefined || pattern === null) return null;
  if (typeof pattern === 'function') return pattern as Matcher;
  if (typeof pattern === 'object') return (msg) => matches(pattern, msg);
  throw new ActorError(
    'invalid_argument',
    `receive expects a predicate or a pattern object, got ${describe(pattern)}`,
  );
}

/** True if every key of `pattern` equals the message's (recursively for plain objects). */
export function matches(pattern: unknown, value: unknown): boolean {
  if (pattern === value) return true;
  if (
    pattern instanceof Pid ||
    (typeof pattern === 'object' &&
      pattern !== null &&
      'equals' in pattern &&
      typeof pattern.equals === 'function')
  ) {
    return (pattern as { equals(v: unknown): boolean }).equals(value);
  }
  if (typeof pattern !== 'object' || pattern === null) return false;
  if (typeof value !== 'object' || value === null) return false;
  if (Array.isArray(pattern) && (!Array.isArray(value) || value.length !== pattern.length))
    return false;
  for (const key of Object.keys(pattern)) {
    if (
      !matches((pattern as Record<string, unknown>)[key], (value as Record<string, unknown>)[key])
    )
      return false;
  }
  return true;
}

export type { DownMessage, ExitMessage };
