// Everything that crosses an authenticated link, as one discriminated union on `kind`.
// Process signals (actors/signals.ts) travel as they are; the rest is node-to-node control.
import type { Signal } from '../actors/signals.ts';

/** A node-level request: remote spawn, process control, the global registry, faults. */
export interface RpcRequest {
  kind: 'rpc';
  id: number;
  op: string;
  args: unknown;
}

export interface RpcReply {
  kind: 'rpc_reply';
  id: number;
  ok: boolean;
  /** The result, or for ok=false `{ code, message }`. */
  value: unknown;
}

export type Control =
  /** Sent on idle links so the peer knows this node is alive. */
  | { kind: 'ping' }
  /** The nodes this node is connected to, so the newcomer connects to them too (full mesh). */
  | { kind: 'peers'; nodes: string[] }
  | RpcRequest
  | RpcReply;

export type Wire = Signal | Control;

export type WireKind = Wire['kind'];

export const SIGNAL_KINDS: ReadonlySet<string> = new Set<Signal['kind']>([
  'send',
  'send_named',
  'link',
  'unlink',
  'exit',
  'monitor',
  'demonitor',
  'down',
  'reply',
]);
