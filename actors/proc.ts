// One process's record: mailbox, links, monitors, flags. The kernel owns and mutates these.
// Nothing here schedules work; it is plain state plus the pending receive of the process.
import { Inbox, Mailbox } from './mailbox.ts';
import type { HostedActor } from './nact-host.ts';
import type { Pid, Ref } from './pid.ts';

export type Matcher = (msg: unknown) => boolean;

/** A receive that is waiting for a matching message or its timeout. */
export interface Waiter {
  match: Matcher | null;
  resolve: (msg: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout | null;
  /** The timeout fired while the process was suspended; it takes effect on resume. */
  timedOut: boolean;
}

export type ProcStatus = 'running' | 'waiting' | 'suspended' | 'exited';

export class Proc {
  readonly pid: Pid;
  /** What the process runs, for logs and process listings. */
  readonly label: string;
  /** The top-level process of a script or REPL (replaced by a new one if it dies). */
  readonly isDefault: boolean;
  readonly host: HostedActor;
  alive = true;
  exitReason: unknown = undefined;
  readonly mailbox = new Mailbox();
  trapExit = false;
  /** suspend() calls not yet matched by resume(). */
  suspendCount = 0;
  waiter: Waiter | null = null;
  /** Continuations held back while suspended, run in order on resume. */
  held: Array<() => void> = [];
  /** The process that spawned this one (Erlang's first ancestor), for supervision trees. */
  parent: Pid | undefined = undefined;
  /** Linked processes by pid key. */
  readonly links = new Map<string, Pid>();
  /** Who monitors this process: ref key -> watcher. */
  readonly monitoredBy = new Map<string, { ref: Ref; watcher: Pid }>();
  /** What this process monitors: ref key -> target. Removed when DOWN is delivered. */
  readonly monitoring = new Map<string, { ref: Ref; target: Pid | null }>();
  /** Pending calls made by this process (call ref ids). */
  readonly calls = new Set<number>();
  /** Pending local calls to this process (call ref ids), failed if it dies. */
  readonly callers = new Set<number>();
  /** Timers that send to this process (cancelled when it dies). */
  readonly timers = new Set<string>();
  name: string | undefined = undefined;
  lastMessage: unknown = undefined;
  /** Messages sent but not yet moved to the mailbox by a nact turn of this process. */
  readonly inbox = new Inbox();
  /** A wake-up is queued in nact for this process (so a burst of sends costs one dispatch). */
  wakePending = false;
  /** Messages taken without yielding to the event loop (fairness budget). */
  reductions = 0;

  constructor(pid: Pid, label: string, isDefault: boolean, host: (proc: Proc) => HostedActor) {
    this.pid = pid;
    this.label = label;
    this.isDefault = isDefault;
    this.host = host(this);
  }

  get suspended(): boolean {
    return this.suspendCount > 0;
  }

  status(): ProcStatus {
    if (!this.alive) return 'exited';
    if (this.suspendCount > 0) return 'suspended';
    return this.waiter ? 'waiting' : 'running';
  }

  /** Messages sent to this process that nact has not handed to its mailbox yet. */
  get inTransit(): number {
    return this.inbox.length;
  }

  /** Messages waiting: in the runtime's mailbox plus those nact has not handed over yet. */
  queueLength(): number {
    return this.mailbox.length + this.inbox.length;
  }

  /** Runs `fn` now, later (after resume) if suspended, or never if the process is dead. */
  continueWith(fn: () => void): void {
    if (!this.alive) return;
    if (this.suspendCount > 0) this.held.push(fn);
    else fn();
  }
}
