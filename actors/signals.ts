// Signals between processes: everything one process can do to another, as plain data.
// The kernel handles signals for local targets; a RemoteBridge carries the rest to their node.
import type { Pid, Ref } from './pid.ts';

export type Signal =
  /** An ordinary message. */
  | { kind: 'send'; to: Pid; msg: unknown }
  /** A message to a name registered on `node` (dropped if the name is unknown there). */
  | { kind: 'send_named'; name: string; node: string; msg: unknown }
  | { kind: 'link'; from: Pid; to: Pid }
  | { kind: 'unlink'; from: Pid; to: Pid }
  /** An exit signal; `link` is true when it comes from a link (the sender died). */
  | { kind: 'exit'; from: Pid; to: Pid; reason: unknown; link: boolean }
  | { kind: 'monitor'; from: Pid; to: Pid; ref: Ref }
  | { kind: 'demonitor'; from: Pid; to: Pid; ref: Ref }
  /** A monitored process died: delivered to the watcher `to`. */
  | { kind: 'down'; to: Pid; ref: Ref; pid: Pid; reason: unknown }
  /** The reply to a call, routed to the caller's pending call by `ref`. */
  | { kind: 'reply'; to: Pid; ref: Ref; value: unknown };

export type SignalKind = Signal['kind'];

/**
 * The seam the transport plugs into. The kernel hands it every signal whose target lives on
 * another node; the transport calls `kernel.handleSignal` for signals that arrive, and
 * `kernel.nodeDown(node)` when a node is lost.
 */
export interface RemoteBridge {
  /** Delivers a signal to `node`. Returns false if the node is not reachable right now. */
  deliver(node: string, signal: Signal): boolean;
}
