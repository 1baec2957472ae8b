// Messages the runtime itself puts in mailboxes: DOWN, EXIT, call and cast envelopes.
// Each is a class so the kernel can tell its own messages from user messages cheaply.
import { type InspectOptions, inspect } from 'node:util';
import type { Pid, Ref } from './pid.ts';

/** Sent to a watcher when a monitored process dies (Elixir's `{:DOWN, ref, :process, pid, reason}`). */
export class DownMessage {
  readonly type: 'DOWN' = 'DOWN';
  readonly ref: Ref;
  /** The monitored process (or the name that was monitored, if it was not registered). */
  readonly pid: Pid | string;
  readonly reason: unknown;

  constructor(ref: Ref, pid: Pid | string, reason: unknown) {
    this.ref = ref;
    this.pid = pid;
    this.reason = reason;
  }

  [inspect.custom](_depth: number, options: InspectOptions): string {
    return inspect({ ...this }, options);
  }
}

/** An exit signal turned into a message because the receiver traps exits. */
export class ExitMessage {
  readonly type: 'EXIT' = 'EXIT';
  readonly from: Pid;
  readonly reason: unknown;

  constructor(from: Pid, reason: unknown) {
    this.from = from;
    this.reason = reason;
  }

  [inspect.custom](_depth: number, options: InspectOptions): string {
    return inspect({ ...this }, options);
  }
}

/** Where a call's reply goes. */
export interface From {
  readonly pid: Pid;
  readonly ref: Ref;
}

/** A synchronous request; answer with `reply(msg.from, value)`. */
export interface CallMessage<Req = unknown> {
  readonly type: '$call';
  readonly from: From;
  readonly request: Req;
}

/** An asynchronous request. */
export interface CastMessage<Req = unknown> {
  readonly type: '$cast';
  readonly request: Req;
}

function hasType(msg: unknown, type: string): boolean {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === type;
}

export function isDown(msg: unknown): msg is DownMessage {
  return hasType(msg, 'DOWN');
}

export function isExit(msg: unknown): msg is ExitMessage {
  return hasType(msg, 'EXIT');
}

export function isCall(msg: unknown): msg is CallMessage {
  return hasType(msg, '$call');
}

export function isCast(msg: unknown): msg is CastMessage {
  return hasType(msg, '$cast');
}
