// Functions remote nodes spawn in the transport tests (loaded with --load Fx=...).
// Closures cannot cross processes; these are the named functions spawnOn uses.
import {
  Global,
  isCall,
  type Pid,
  receive,
  register,
  reply,
  self,
  send,
  sleep,
  trapExit,
} from '../../actors/index.ts';

/** Echoes `{ from, msg }` back to `from` as `{ echo: msg, by }`, forever. */
export async function echo(): Promise<void> {
  for (;;) {
    const m = await receive<{ from: Pid; msg: unknown }>();
    send(m.from, { echo: m.msg, by: self() });
  }
}

/** Answers calls: `{ op: 'add', a, b }` -> a + b, `{ op: 'sleep', ms }` -> 'slept'. */
export async function calc(): Promise<void> {
  for (;;) {
    const m = await receive(isCall);
    const req = m.request as { op: string; a?: number; b?: number; ms?: number };
    if (req.op === 'sleep') {
      await sleep(req.ms ?? 0); // the workload: a slow call
      reply(m.from, 'slept');
    } else if (req.op === 'crash') {
      throw new Error('calc crashed');
    } else reply(m.from, (req.a ?? 0) + (req.b ?? 0));
  }
}

/** Registers itself globally as `name`, tells `to` the outcome, then waits forever. */
export async function holdGlobal(name: string, to: Pid): Promise<void> {
  const ok = await Global.register(name, self());
  send(to, { registered: name, ok, pid: self() });
  await receive((m) => m === 'never');
}

/** Registers locally as `name`, tells `to` `{ ready: name }`, then forwards what it receives. */
export async function named(name: string, to: Pid): Promise<void> {
  register(name, self());
  send(to, { ready: name });
  for (;;) send(to, { got: await receive(), at: name });
}

/** Traps exits and reports every EXIT message to `to`. */
export async function watcher(to: Pid): Promise<void> {
  trapExit(true);
  for (;;) send(to, { watcherGot: await receive() });
}

/** Waits forever. */
export async function idle(): Promise<void> {
  await receive((m) => m === 'never');
}

/** Sends this node's connected node list to `to`. */
export async function reportNodes(to: Pid): Promise<void> {
  const { Node } = await import('../../transport/index.ts');
  send(to, { nodes: Node.list(), from: Node.self() });
}

/** Forwards `{ to, msg }` requests: sends `msg` to `to`, forever. */
export async function relay(): Promise<void> {
  for (;;) {
    const m = await receive<{ to: Pid; msg: unknown }>();
    send(m.to, m.msg);
  }
}

/** Sends `{ global: name, whereis }` (the pid's text, or null) as this node sees the name. */
export async function reportGlobal(name: string, to: Pid): Promise<void> {
  const pid = Global.whereis(name);
  send(to, { global: name, whereis: pid ? String(pid) : null });
}

/** Registers as `name` and keeps the `seq` of every message; `{ report: from }` gets `{ seqs }`. */
export async function collector(name: string): Promise<void> {
  register(name, self());
  const seqs: number[] = [];
  for (;;) {
    const m = await receive<{ seq?: number; report?: Pid }>();
    if (m.report) send(m.report, { seqs: [...seqs], by: name });
    else if (typeof m.seq === 'number') seqs.push(m.seq);
  }
}

/** Answers every call with the nodes this node is linked to. */
export async function nodeList(): Promise<void> {
  const { Node } = await import('../../transport/index.ts');
  for (;;) {
    const m = await receive(isCall);
    reply(m.from, Node.list());
  }
}
