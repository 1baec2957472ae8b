// The node-local kernel: the process table, message delivery through nact, and signal handling.
// Public functions in api.ts are thin wrappers over this; the transport talks to it via signals.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomInt } from 'node:crypto';
import { inspect } from 'node:util';
import { Deadlines } from './deadlines.ts';
import { ActorError, ExitSignal } from './errors.ts';
import { logger } from './log.ts';
import { NONE } from './mailbox.ts';
import { DownMessage, ExitMessage, type From } from './messages.ts';
import { NactHost } from './nact-host.ts';
import { Pid, Ref } from './pid.ts';
import { type Matcher, Proc } from './proc.ts';
import { formatReason, isCleanExit, isError } from './reason.ts';
import type { RemoteBridge, Signal } from './signals.ts';

/** What `receive` resolves to when its timeout passes with no matching message. */
export const TIMEOUT: unique symbol = Symbol.for('actorcluster.timeout');
export type Timeout = typeof TIMEOUT;

/** Messages a process may take in a row without yielding to the event loop. */
const REDUCTIONS_MAX = 1000;

/**
 * Messages moved from a process's inbox to its mailbox in one nact turn. A burst of sends
 * costs one nact dispatch (one event-loop turn) per this many messages, not one per message.
 */
const DELIVERY_BURST_MAX = 4096;

/** The one message the kernel hands nact: "this process's inbox has messages". */
const WAKE: unique symbol = Symbol('wake');

export interface SpawnOptions {
  /** Link the new process to the spawner before it runs. */
  link?: boolean;
  /** Start with exits trapped. */
  trapExit?: boolean;
  /** A label for logs and listings (defaults to the function's name). */
  label?: string;
}

interface PendingCall {
  readonly caller: Proc;
  readonly target: Pid;
  /** The callee when it is local (its death fails the call directly, without a monitor). */
  readonly targetProc: Proc | undefined;
  readonly ref: Ref;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  /** Infinity: no timeout. */
  readonly timeoutMs: number;
}

interface TimerEntry {
  readonly handle: NodeJS.Timeout;
  readonly target: Proc | undefined;
  readonly dueAtMs: number;
}

export type DeathListener = (pid: Pid, reason: unknown) => void;
export type NodeDownListener = (node: string) => void;

export class Kernel {
  private node: string;
  private creationId: number;
  private nextProcId = 1;
  private nextRefId = 1;
  private readonly procs = new Map<number, Proc>();
  private readonly names = new Map<string, Proc>();
  private readonly host = new NactHost();
  private readonly als = new AsyncLocalStorage<Proc>();
  private bridge: RemoteBridge | null = null;
  /** Pending calls by the id of their ref (refs made on this node). */
  private readonly calls = new Map<number, PendingCall>();
  private readonly callDeadlines = new Deadlines(
    (id) => this.calls.has(id),
    (id) => {
      const call = this.calls.get(id);
      if (call === undefined) return;
      const err = new ActorError(
        'timeout',
        `call to ${call.target} timed out after ${call.timeoutMs} ms`,
      );
      this.settleCall(id, false, err);
    },
  );
  private readonly timers = new Map<string, TimerEntry>();
  private readonly deathListeners = new Set<DeathListener>();
  private readonly nodeDownListeners = new Set<NodeDownListener>();
  private readonly queue: Signal[] = [];
  private draining = false;
  private topLevel: Proc;

  constructor(node = 'nonode') {
    this.node = node;
    this.creationId = randomInt(1, 2 ** 31);
    this.topLevel = this.newProc('top-level', true);
  }

  get nodeName(): string {
    return this.node;
  }

  get creation(): number {
    return this.creationId;
  }

  /**
   * Gives the node its name (done once by the transport before the node is used). Only the
   * top-level process may exist yet; it is replaced by one carrying the new name.
   */
  rename(node: string, creation: number = randomInt(1, 2 ** 31)): void {
    const others = [...this.procs.values()].filter((p) => !p.isDefault);
    if (others.length > 0) {
      throw new ActorError(
        'invalid_argument',
        `cannot name the node '${node}': ${others.length} process(es) already run as '${this.node}'`,
      );
    }
    const old = this.topLevel;
    this.node = node;
    this.creationId = creation;
    this.topLevel = this.newProc('top-level', true);
    old.alive = false;
    old.host.stop();
    this.procs.delete(old.pid.id);
  }

  setBridge(bridge: RemoteBridge | null): void {
    this.bridge = bridge;
  }

  onDeath(listener: DeathListener): () => void {
    this.deathListeners.add(listener);
    return () => this.deathListeners.delete(listener);
  }

  onNodeDown(listener: NodeDownListener): () => void {
    this.nodeDownListeners.add(listener);
    return () => this.nodeDownListeners.delete(listener);
  }

  // ---- processes -------------------------------------------------------------------------

  /** The calling process: the one whose code is running, else the top-level process. */
  current(): Proc {
    return this.als.getStore() ?? this.topLevel;
  }

  /** The top-level process (scripts, the REPL, tests). */
  topLevelProc(): Proc {
    return this.topLevel;
  }

  makeRef(): Ref {
    return new Ref(this.node, this.nextRefId++, this.creationId);
  }

  isLocal(pid: Pid): boolean {
    return pid.node === this.node && pid.creation === this.creationId;
  }

  /** The live local process with this pid, if any. */
  lookup(pid: Pid): Proc | undefined {
    if (pid.node !== this.node) return undefined;
    const proc = this.procs.get(pid.id);
    return proc !== undefined && proc.pid.creation === pid.creation ? proc : undefined;
  }

  /** The longest mailbox any process of this node has had (metrics). */
  mailboxHighWater = 0;

  /** How many processes are alive, and the longest mailbox now (metrics, read at scrape time). */
  mailboxStats(): { processes: number; longestNow: number } {
    let longestNow = 0;
    for (const p of this.procs.values())
      if (p.mailbox.length > longestNow) longestNow = p.mailbox.length;
    return { processes: this.procs.size, longestNow };
  }

  livePids(): Pid[] {
    return [...this.procs.values()].map((p) => p.pid);
  }

  spawn<A extends unknown[]>(
    fn: (...args: A) => unknown,
    args: A,
    options: SpawnOptions = {},
  ): Pid {
    if (typeof fn !== 'function') {
      throw new ActorError('invalid_argument', `spawn expects a function, got ${typeof fn}`);
    }
    const parent = this.current();
    const proc = this.newProc(options.label ?? (fn.name || 'anonymous'), false);
    if (parent.alive) proc.parent = parent.pid;
    if (options.trapExit) proc.trapExit = true;
    if (options.link && parent.alive) {
      proc.links.set(parent.pid.key, parent.pid);
      parent.links.set(proc.pid.key, proc.pid);
    }
    setImmediate(() => {
      if (!proc.alive) return;
      this.als.run(proc, () => {
        void this.runBody(proc, fn, args);
      });
    });
    return proc.pid;
  }

  private newProc(label: string, isDefault: boolean): Proc {
    const id = this.nextProcId++;
    const pid = new Pid(this.node, id, this.creationId);
    const proc = new Proc(pid, label, isDefault, (p) =>
      this.host.spawn(
        `p${id}`,
        () => this.deliverBurst(p),
        (err) => this.terminate(p, err),
      ),
    );
    this.procs.set(id, proc);
    return proc;
  }

  private async runBody<A extends unknown[]>(
    proc: Proc,
    fn: (...args: A) => unknown,
    args: A,
  ): Promise<void> {
    let reason: unknown = 'normal';
    let threw = false;
    try {
      await fn(...args);
    } catch (err) {
      threw = true;
      reason = err instanceof ExitSignal ? err.reason : err;
    }
    if (!proc.alive) return;
    // A kill passed on through a link (e.g. a supervisor leaving with its parent) is no crash.
    if (threw && !isCleanExit(reason) && reason !== 'killed') this.crashReport(proc, reason);
    this.terminate(proc, reason);
  }

  private crashReport(proc: Proc, reason: unknown): void {
    logger().error(
      {
        node: this.node,
        pid: proc.pid.toString(),
        name: proc.name,
        label: proc.label,
        reason: formatReason(reason),
        err: isError(reason) ? reason : undefined,
        lastMessage:
          proc.lastMessage === undefined
            ? undefined
            : inspect(proc.lastMessage, {
                depth: 3,
                maxArrayLength: 10,
                maxStringLength: 200,
                breakLength: Number.POSITIVE_INFINITY,
              }),
      },
      'crash report: process exited abnormally',
    );
  }

  /** Ends a process: it stops running, its mailbox is dropped, links and monitors are told. */
  terminate(proc: Proc, reason: unknown): void {
    if (!proc.alive) return;
    proc.alive = false;
    proc.exitReason = reason;
    proc.host.stop();
    const waiter = proc.waiter;
    proc.waiter = null;
    if (waiter?.timer) clearTimeout(waiter.timer);
    const exitError = proc.isDefault
      ? new ActorError(
          'exit',
          `the top-level process ${proc.pid} exited: ${formatReason(reason)}`,
          reason,
        )
      : null;
    if (exitError) exitError.stack = `ActorError: ${exitError.message}`; // the kernel's frames say nothing
    if (waiter && exitError) waiter.reject(exitError);
    proc.held = [];
    proc.mailbox.clear();
    proc.inbox.clear();
    this.procs.delete(proc.pid.id);
    if (proc.name !== undefined && this.names.get(proc.name) === proc) this.names.delete(proc.name);
    for (const key of proc.timers) this.cancelTimerKey(key);
    for (const id of proc.calls) {
      const call = this.calls.get(id);
      if (!call) continue;
      this.calls.delete(id);
      if (call.timeoutMs !== Number.POSITIVE_INFINITY) this.callDeadlines.settled(call.timeoutMs);
      if (call.targetProc) call.targetProc.callers.delete(id);
      else this.route({ kind: 'demonitor', from: proc.pid, to: call.target, ref: call.ref });
      if (exitError) call.reject(exitError);
    }
    proc.calls.clear();
    for (const id of proc.callers) this.settleCall(id, false, callFailure(proc.pid, reason));
    proc.callers.clear();
    for (const linked of proc.links.values()) {
      this.route({ kind: 'exit', from: proc.pid, to: linked, reason, link: true });
    }
    proc.links.clear();
    for (const { ref, watcher } of proc.monitoredBy.values()) {
      this.route({ kind: 'down', to: watcher, ref, pid: proc.pid, reason });
    }
    proc.monitoredBy.clear();
    for (const { ref, target } of proc.monitoring.values()) {
      if (target) this.route({ kind: 'demonitor', from: proc.pid, to: target, ref });
    }
    proc.monitoring.clear();
    for (const listener of this.deathListeners) listener(proc.pid, reason);
    if (proc.isDefault && proc === this.topLevel) {
      this.topLevel = this.newProc('top-level', true);
      logger().warn(
        { node: this.node, old: proc.pid.toString(), new: this.topLevel.pid.toString() },
        `top-level process exited (${formatReason(reason)}); a new one replaces it`,
      );
    }
  }

  // ---- mailbox and receive ----------------------------------------------------------------

  /**
   * Puts a message in the process's inbox, in order with everything else sent to it. nact
   * stays the scheduler: the first message of a burst dispatches one wake-up to the process's
   * nact actor, and that nact turn moves the whole burst to the mailbox (deliverBurst).
   */
  private dispatch(proc: Proc, msg: unknown): void {
    proc.inbox.push(msg);
    if (!proc.wakePending) {
      proc.wakePending = true;
      proc.host.dispatch(WAKE);
    }
  }

  private dispatchTo(proc: Proc | undefined, msg: unknown): void {
    if (proc !== undefined) this.dispatch(proc, msg);
  }

  /**
   * Delivers messages that arrived together (one frame from another node) to one local
   * process: in order, in one nact turn.
   */
  deliverMany(pid: Pid, msgs: unknown[]): void {
    const proc = this.lookup(pid);
    if (proc === undefined) return;
    for (const msg of msgs) proc.inbox.push(msg);
    if (!proc.wakePending && msgs.length > 0) {
      proc.wakePending = true;
      proc.host.dispatch(WAKE);
    }
  }

  /** nact's turn for `proc`: moves up to a burst of its inbox to its mailbox, in order. */
  private deliverBurst(proc: Proc): void {
    const inbox = proc.inbox;
    inbox.drain(DELIVERY_BURST_MAX, (msg) => {
      this.enqueue(proc, msg);
      return proc.alive;
    });
    if (!proc.alive) return;
    // More came meanwhile, or the burst was cut: one more nact turn (others run in between).
    if (inbox.length > 0) proc.host.dispatch(WAKE);
    else proc.wakePending = false;
  }

  /** A message reaches the mailbox (or the receive waiting for it). */
  private enqueue(proc: Proc, msg: unknown): void {
    if (!proc.alive) return;
    if (msg instanceof DownMessage && !proc.monitoring.delete(msg.ref.key)) return; // demonitored
    const waiter = proc.waiter;
    if (waiter !== null && proc.suspendCount === 0) {
      let hit: boolean;
      try {
        hit = waiter.match === null || waiter.match(msg);
      } catch (err) {
        // A throwing matcher surfaces in the receiving process's own code.
        proc.waiter = null;
        if (waiter.timer) clearTimeout(waiter.timer);
        proc.mailbox.push(msg);
        waiter.reject(err);
        return;
      }
      if (hit) {
        proc.waiter = null;
        if (waiter.timer) clearTimeout(waiter.timer);
        proc.lastMessage = msg;
        proc.reductions = 0;
        waiter.resolve(msg);
        return;
      }
    }
    proc.mailbox.push(msg);
    if (proc.mailbox.length > this.mailboxHighWater) this.mailboxHighWater = proc.mailbox.length;
  }

  /** Takes the first message of `proc`'s mailbox that matches, waiting up to `timeoutMs`. */
  receive(proc: Proc, match: Matcher | null, timeoutMs: number): Promise<unknown> {
    if (!proc.alive) return new Promise(() => {}); // a dead process never runs again
    if (proc.waiter !== null) {
      return Promise.reject(
        new ActorError(
          'invalid_argument',
          `${proc.pid} is already waiting in receive; a process receives one message at a time`,
        ),
      );
    }
    if (proc.suspendCount === 0) {
      let msg: unknown;
      try {
        msg = proc.mailbox.take(match);
      } catch (err) {
        return Promise.reject(err); // a throwing matcher raises in the receiver's own code
      }
      if (msg !== NONE) {
        proc.lastMessage = msg;
        return this.yieldValue(proc, msg);
      }
      if (timeoutMs <= 0) return this.yieldValue(proc, TIMEOUT);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve,
        reject,
        timer: null as NodeJS.Timeout | null,
        timedOut: false,
      };
      if (Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(
          () => {
            if (proc.waiter !== waiter) return;
            waiter.timer = null;
            if (proc.suspendCount > 0) {
              waiter.timedOut = true;
              return;
            }
            proc.waiter = null;
            resolve(TIMEOUT);
          },
          Math.max(0, timeoutMs),
        );
      }
      proc.waiter = waiter;
    });
  }

  /**
   * The head of the mailbox, taken at once, or NONE when a plain receive must wait (empty
   * mailbox, suspended or dead process, a receive already pending) or must yield (budget
   * spent). For loops that take any message (GenServer): no promise per queued message.
   */
  takeNow(proc: Proc): unknown {
    if (!proc.alive || proc.suspendCount > 0 || proc.waiter !== null) return NONE;
    if (proc.reductions + 1 >= REDUCTIONS_MAX || proc.mailbox.length === 0) return NONE;
    const msg = proc.mailbox.take(null);
    proc.reductions++;
    proc.lastMessage = msg;
    return msg;
  }

  private yieldValue(proc: Proc, value: unknown): Promise<unknown> {
    // Fairness: a process draining a long mailbox yields to the event loop now and then,
    // as the BEAM preempts a process after a budget of reductions.
    if (++proc.reductions < REDUCTIONS_MAX) return Promise.resolve(value);
    proc.reductions = 0;
    return new Promise((resolve) => {
      setImmediate(() => proc.continueWith(() => resolve(value)));
    });
  }

  /** Removes and returns every message in the mailbox. */
  flush(proc: Proc): unknown[] {
    const all = proc.mailbox.toArray();
    proc.mailbox.clear();
    return all;
  }

  suspend(proc: Proc): void {
    proc.suspendCount++;
  }

  /** Undoes one suspend. Returns false if the process was not suspended. */
  resume(proc: Proc): boolean {
    if (proc.suspendCount === 0) return false;
    proc.suspendCount--;
    if (proc.suspendCount > 0) return true;
    const waiter = proc.waiter;
    if (waiter !== null) {
      let msg: unknown = NONE;
      try {
        msg = proc.mailbox.take(waiter.match);
      } catch (err) {
        proc.waiter = null;
        if (waiter.timer) clearTimeout(waiter.timer);
        waiter.reject(err);
      }
      if (msg !== NONE) {
        proc.waiter = null;
        if (waiter.timer) clearTimeout(waiter.timer);
        proc.lastMessage = msg;
        waiter.resolve(msg);
      } else if (waiter.timedOut && proc.waiter === waiter) {
        proc.waiter = null;
        waiter.resolve(TIMEOUT);
      }
    }
    const held = proc.held;
    proc.held = [];
    for (const fn of held) fn();
    return true;
  }

  // ---- names -------------------------------------------------------------------------------

  register(name: string, pid: Pid): void {
    const proc = this.lookup(pid);
    if (!this.isLocal(pid)) {
      throw new ActorError(
        'not_local',
        `register needs a local pid; ${pid} is on node ${pid.node}`,
      );
    }
    if (!proc) throw new ActorError('noproc', `cannot register '${name}': ${pid} is not alive`);
    const holder = this.names.get(name);
    if (holder !== undefined) {
      throw new ActorError(
        'name_taken',
        `the name '${name}' is already registered to ${holder.pid}`,
      );
    }
    if (proc.name !== undefined) {
      throw new ActorError(
        'already_registered',
        `${pid} is already registered as '${proc.name}'; unregister it first`,
      );
    }
    this.names.set(name, proc);
    proc.name = name;
  }

  unregister(name: string): void {
    const proc = this.names.get(name);
    if (!proc) throw new ActorError('unknown_name', `no process is registered as '${name}'`);
    this.names.delete(name);
    proc.name = undefined;
  }

  whereis(name: string): Pid | undefined {
    return this.names.get(name)?.pid;
  }

  registeredNames(): string[] {
    return [...this.names.keys()];
  }

  // ---- signals -----------------------------------------------------------------------------

  /**
   * Sends a message to a pid, local or remote. A dead or unreachable target drops it.
   * `sender` is the calling process (callers that already have it pass it: one lookup per send).
   */
  sendTo(pid: Pid, msg: unknown, sender: Proc = this.current()): void {
    if (pid.node === this.node) {
      const proc = this.lookup(pid);
      if (proc === undefined) return;
      // A message to oneself is in the mailbox at once, as on the BEAM (send then flush sees it).
      if (proc === sender) {
        this.enqueue(proc, msg);
      } else {
        this.dispatch(proc, msg);
      }
      return;
    }
    this.bridge?.deliver(pid.node, { kind: 'send', to: pid, msg });
  }

  /** Sends a message to a name registered on another node (dropped if unknown there). */
  sendNamed(name: string, node: string, msg: unknown): void {
    if (node === this.node) {
      this.dispatchTo(this.names.get(name), msg);
      return;
    }
    this.bridge?.deliver(node, { kind: 'send_named', name, node, msg });
  }

  /** Routes a signal to its target's node: handled here if local, else given to the bridge. */
  route(signal: Signal): void {
    const node = signal.kind === 'send_named' ? signal.node : signal.to.node;
    if (node === this.node) {
      this.handleSignal(signal);
      return;
    }
    if (this.bridge?.deliver(node, signal)) return;
    this.bounce(signal);
  }

  /**
   * Handles a signal for a local target (also the entry point for signals from other nodes).
   * Signals raised while one is being handled wait in a queue, so a cascade of exits through
   * a long chain of links runs iteratively, in order, without deep recursion.
   */
  handleSignal(signal: Signal): void {
    if (this.draining) {
      this.queue.push(signal);
      return;
    }
    this.draining = true;
    try {
      this.handleLocal(signal);
      let next = this.queue.shift();
      while (next !== undefined) {
        this.handleLocal(next);
        next = this.queue.shift();
      }
    } finally {
      this.draining = false;
    }
  }

  /** What a signal to an unreachable node turns into (Erlang: `noconnection`). */
  bounce(signal: Signal): void {
    switch (signal.kind) {
      case 'link':
        this.handleSignal({
          kind: 'exit',
          from: signal.to,
          to: signal.from,
          reason: 'noconnection',
          link: true,
        });
        return;
      case 'monitor':
        this.handleSignal({
          kind: 'down',
          to: signal.from,
          ref: signal.ref,
          pid: signal.to,
          reason: 'noconnection',
        });
        return;
      default:
        return; // messages, replies, exits and unlinks to a lost node are dropped
    }
  }

  private handleLocal(signal: Signal): void {
    switch (signal.kind) {
      case 'send':
        this.dispatchTo(this.lookup(signal.to), signal.msg);
        return;
      case 'send_named':
        this.dispatchTo(this.names.get(signal.name), signal.msg);
        return;
      case 'link': {
        const target = this.lookup(signal.to);
        if (target) target.links.set(signal.from.key, signal.from);
        else
          this.route({
            kind: 'exit',
            from: signal.to,
            to: signal.from,
            reason: 'noproc',
            link: true,
          });
        return;
      }
      case 'unlink':
        this.lookup(signal.to)?.links.delete(signal.from.key);
        return;
      case 'exit':
        this.onExitSignal(signal.to, signal.from, signal.reason, signal.link);
        return;
      case 'monitor': {
        const target = this.lookup(signal.to);
        if (target)
          target.monitoredBy.set(signal.ref.key, { ref: signal.ref, watcher: signal.from });
        else
          this.route({
            kind: 'down',
            to: signal.from,
            ref: signal.ref,
            pid: signal.to,
            reason: 'noproc',
          });
        return;
      }
      case 'demonitor':
        this.lookup(signal.to)?.monitoredBy.delete(signal.ref.key);
        return;
      case 'down': {
        const callId = this.ownCallId(signal.ref);
        if (callId !== undefined) {
          this.settleCall(callId, false, callFailure(signal.pid, signal.reason));
          return;
        }
        const watcher = this.lookup(signal.to);
        if (watcher?.monitoring.has(signal.ref.key)) {
          // Through nact, so DOWN comes after every message the dead process sent before dying.
          this.dispatch(watcher, new DownMessage(signal.ref, signal.pid, signal.reason));
        }
        return;
      }
      case 'reply': {
        const callId = this.ownCallId(signal.ref);
        if (callId !== undefined) this.settleCall(callId, true, signal.value);
        return;
      }
      default: {
        const never: never = signal;
        throw new Error(`unknown signal ${inspect(never)}`);
      }
    }
  }

  private onExitSignal(to: Pid, from: Pid, reason: unknown, viaLink: boolean): void {
    const target = this.lookup(to);
    if (!target) return;
    if (viaLink && !target.links.delete(from.key)) return; // unlinked meanwhile
    if (!viaLink && reason === 'kill') {
      this.terminate(target, 'killed');
      return;
    }
    if (target.trapExit) {
      this.dispatch(target, new ExitMessage(from, reason));
      return;
    }
    if (reason === 'normal') {
      if (!viaLink && from.equals(target.pid)) this.terminate(target, 'normal');
      return;
    }
    this.terminate(target, reason);
  }

  /** A node was lost: links to it break with `noconnection`, monitors fire, calls fail. */
  nodeDown(node: string): void {
    for (const proc of [...this.procs.values()]) {
      for (const linked of [...proc.links.values()]) {
        if (linked.node === node) {
          this.handleSignal({
            kind: 'exit',
            from: linked,
            to: proc.pid,
            reason: 'noconnection',
            link: true,
          });
        }
      }
      for (const [key, { watcher }] of [...proc.monitoredBy]) {
        if (watcher.node === node) proc.monitoredBy.delete(key);
      }
      for (const { ref, target } of [...proc.monitoring.values()]) {
        if (target?.node === node) {
          this.handleSignal({
            kind: 'down',
            to: proc.pid,
            ref,
            pid: target,
            reason: 'noconnection',
          });
        }
      }
    }
    for (const call of [...this.calls.values()]) {
      if (call.target.node === node) {
        this.handleSignal({
          kind: 'down',
          to: call.caller.pid,
          ref: call.ref,
          pid: call.target,
          reason: 'noconnection',
        });
      }
    }
    for (const listener of this.nodeDownListeners) listener(node);
  }

  // ---- links and monitors --------------------------------------------------------------

  link(proc: Proc, target: Pid): void {
    if (target.equals(proc.pid) || proc.links.has(target.key)) return;
    if (target.node === this.node) {
      const other = this.lookup(target);
      if (!other) {
        if (proc.trapExit) this.dispatch(proc, new ExitMessage(target, 'noproc'));
        else throw new ActorError('noproc', `cannot link to ${target}: no such process`);
        return;
      }
      proc.links.set(target.key, target);
      other.links.set(proc.pid.key, proc.pid);
      return;
    }
    proc.links.set(target.key, target);
    this.route({ kind: 'link', from: proc.pid, to: target });
  }

  unlink(proc: Proc, target: Pid): void {
    if (!proc.links.delete(target.key)) return;
    this.route({ kind: 'unlink', from: proc.pid, to: target });
  }

  monitor(proc: Proc, target: Pid): Ref {
    const ref = this.makeRef();
    proc.monitoring.set(ref.key, { ref, target });
    this.route({ kind: 'monitor', from: proc.pid, to: target, ref });
    return ref;
  }

  /** A monitor on a name that is not registered fires at once with `noproc`. */
  monitorMissing(proc: Proc, name: string): Ref {
    const ref = this.makeRef();
    proc.monitoring.set(ref.key, { ref, target: null });
    this.dispatch(proc, new DownMessage(ref, name, 'noproc'));
    return ref;
  }

  /** Returns true if the monitor was active. `flush` also drops a DOWN already queued. */
  demonitor(proc: Proc, ref: Ref, flush: boolean): boolean {
    const entry = proc.monitoring.get(ref.key);
    proc.monitoring.delete(ref.key);
    if (entry?.target) this.route({ kind: 'demonitor', from: proc.pid, to: entry.target, ref });
    if (flush) proc.mailbox.removeAll((m) => m instanceof DownMessage && m.ref.equals(ref));
    return entry !== undefined;
  }

  /** Sends an exit signal from `from` to `target` (Process.exit/2). */
  exit(from: Pid, target: Pid, reason: unknown): void {
    this.route({ kind: 'exit', from, to: target, reason, link: false });
  }

  // ---- calls -------------------------------------------------------------------------------

  call(caller: Proc, target: Pid, request: unknown, timeoutMs: number): Promise<unknown> {
    if (target.equals(caller.pid)) {
      return Promise.reject(
        new ActorError('calling_self', `${caller.pid} called itself; the call would never return`),
      );
    }
    const targetProc = target.node === this.node ? this.lookup(target) : undefined;
    if (target.node === this.node && !targetProc) {
      return Promise.reject(callFailure(target, 'noproc'));
    }
    return new Promise((resolve, reject) => {
      const ref = this.makeRef();
      const id = ref.id;
      const finite = Number.isFinite(timeoutMs);
      this.calls.set(id, {
        caller,
        target,
        targetProc,
        ref,
        resolve,
        reject,
        timeoutMs: finite ? timeoutMs : Number.POSITIVE_INFINITY,
      });
      if (finite) this.callDeadlines.add(id, timeoutMs);
      caller.calls.add(id);
      const msg = { type: '$call', from: { pid: caller.pid, ref } satisfies From, request };
      if (targetProc) {
        targetProc.callers.add(id);
        this.dispatch(targetProc, msg);
        return;
      }
      // Remote: monitor the callee so that its death (or its node's) fails the call at once.
      this.route({ kind: 'monitor', from: caller.pid, to: target, ref });
      if (!this.calls.has(id)) return; // already failed: noconnection
      this.route({ kind: 'send', to: target, msg });
    });
  }

  reply(from: From, value: unknown): void {
    if (from.pid.node === this.node) {
      const id = this.ownCallId(from.ref);
      if (id !== undefined) this.settleCall(id, true, value);
      return;
    }
    this.route({ kind: 'reply', to: from.pid, ref: from.ref, value });
  }

  /** The id of a pending call made here with this ref, if there is one. */
  private ownCallId(ref: Ref): number | undefined {
    if (ref.node !== this.node || ref.creation !== this.creationId) return undefined;
    return this.calls.has(ref.id) ? ref.id : undefined;
  }

  private settleCall(id: number, ok: boolean, value: unknown): void {
    const call = this.calls.get(id);
    if (!call) return; // late reply after a timeout: dropped
    this.calls.delete(id);
    call.caller.calls.delete(id);
    if (call.timeoutMs !== Number.POSITIVE_INFINITY) this.callDeadlines.settled(call.timeoutMs);
    if (call.targetProc) call.targetProc.callers.delete(id);
    else this.route({ kind: 'demonitor', from: call.caller.pid, to: call.target, ref: call.ref });
    const caller = call.caller;
    if (!caller.alive) return;
    if (caller.suspendCount > 0) caller.held.push(() => settle(call, ok, value));
    else settle(call, ok, value);
  }

  // ---- timers ------------------------------------------------------------------------------

  /** Sends `msg` after `delayMs`. A timer to a pid is cancelled if that process dies first. */
  sendAfter(deliver: () => void, target: Pid | undefined, delayMs: number): Ref {
    const ref = this.makeRef();
    const proc = target ? this.lookup(target) : undefined;
    if (target && this.isLocal(target) && !proc) return ref; // dead target: never fires
    const key = ref.key;
    const handle = setTimeout(() => {
      this.timers.delete(key);
      proc?.timers.delete(key);
      deliver();
    }, delayMs);
    this.timers.set(key, { handle, target: proc, dueAtMs: performance.now() + delayMs });
    proc?.timers.add(key);
    return ref;
  }

  /** Cancels a timer; returns the milliseconds it had left, or false if it already fired. */
  cancelTimer(ref: Ref): number | false {
    const entry = this.timers.get(ref.key);
    if (!entry) return false;
    this.cancelTimerKey(ref.key);
    return Math.max(0, Math.round(entry.dueAtMs - performance.now()));
  }

  private cancelTimerKey(key: string): void {
    const entry = this.timers.get(key);
    if (!entry) return;
    clearTimeout(entry.handle);
    this.timers.delete(key);
    entry.target?.timers.delete(key);
  }
}

function settle(call: PendingCall, ok: boolean, value: unknown): void {
  if (ok) call.resolve(value);
  else call.reject(value);
}

function callFailure(pid: Pid, reason: unknown): ActorError {
  if (reason === 'noproc') return new ActorError('noproc', `no process ${pid} to call`, reason);
  if (reason === 'noconnection') {
    return new ActorError('noconnection', `the node of ${pid} is not connected`, reason);
  }
  return new ActorError('exit', `${pid} exited during the call: ${formatReason(reason)}`, reason);
}

/** The one kernel of this Node.js process. */
export const kernel = new Kernel();
