// Node-level request/response over links: remote spawn, process control, the global registry,
// fault commands. Handlers are registered per operation; failures come back as typed errors.
import { ActorError, type ActorErrorCode } from '../actors/errors.ts';
import type { RpcReply, RpcRequest, Wire } from './wire.ts';

export type RpcHandler = (args: unknown, fromNode: string) => unknown | Promise<unknown>;

interface Pending {
  node: string;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

export class Rpc {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<string, RpcHandler>();
  /** Sends a message to a node (queued until connected); false if the node is unreachable. */
  private readonly sendTo: (node: string, msg: Wire) => boolean;

  constructor(sendTo: (node: string, msg: Wire) => boolean) {
    this.sendTo = sendTo;
  }

  handle(op: string, handler: RpcHandler): void {
    this.handlers.set(op, handler);
  }

  /** Calls `op` on `node`. Rejects with `noconnection` if the node is lost, `timeout` after timeoutMs. */
  call<T = unknown>(node: string, op: string, args: unknown, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ActorError('timeout', `${op} on ${node} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { node, resolve: resolve as (v: unknown) => void, reject, timer });
      const request: RpcRequest = { kind: 'rpc', id, op, args };
      if (!this.sendTo(node, request))
        this.fail(id, new ActorError('noconnection', `node ${node} is not reachable`));
    });
  }

  /** Sends `op` without waiting for an answer. */
  notify(node: string, op: string, args: unknown): void {
    this.sendTo(node, { kind: 'rpc', id: 0, op, args });
  }

  /** Fails every pending call to `node` (it went down). */
  nodeDown(node: string): void {
    for (const [id, p] of this.pending) {
      if (p.node === node) this.fail(id, new ActorError('noconnection', `node ${node} went down`));
    }
  }

  private fail(id: number, err: ActorError): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** Handles an arriving request or reply. */
  receive(node: string, msg: RpcRequest | RpcReply): void {
    if (msg.kind === 'rpc_reply') {
      const p = this.pending.get(msg.id);
      if (!p || p.node !== node) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.ok) p.resolve(msg.value);
      else {
        const { code, message } = (msg.value ?? {}) as { code?: ActorErrorCode; message?: string };
        p.reject(new ActorError(code ?? 'invalid_argument', message ?? 'remote operation failed'));
      }
      return;
    }
    const handler = this.handlers.get(msg.op);
    const answer = (ok: boolean, value: unknown) => {
      if (msg.id !== 0) this.sendTo(node, { kind: 'rpc_reply', id: msg.id, ok, value });
    };
    if (!handler) {
      answer(false, { code: 'invalid_argument', message: `unknown operation '${msg.op}'` });
      return;
    }
    const failed = (err: unknown) =>
      answer(false, {
        code: err instanceof ActorError ? err.code : 'invalid_argument',
        message: err instanceof Error ? err.message : String(err),
      });
    try {
      const result = handler(msg.args, node);
      if (result instanceof Promise) result.then((v) => answer(true, v), failed);
      else answer(true, result);
    } catch (err) {
      failed(err);
    }
  }
}
