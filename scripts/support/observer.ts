// Every node's observer: a process registered locally as 'observer' and globally as
// `observer:<node's full name>`, that answers `{ observe: true }` calls with a snapshot of the
// node, in plain JSON:
// its links, fault rules, processes (with their parent: the supervision tree), what live
// probes say (Paxos participants, replicas, EPaxos replicas), the recent Paxos messages it saw
// and the recent EPaxos messages it sent.
import {
  call,
  Global,
  isCall,
  nodeName,
  type Pid,
  processes,
  processInfo,
  readProbes,
  receive,
  recentEvents,
  register,
  reply,
  self,
  spawnOpt,
  whereis,
} from '../../actors/index.ts';
import { shortValue } from '../../apps/paxos/participant.ts';
import { Node } from '../../transport/index.ts';

export interface ProcessView {
  /** `#PID<p1.12>` */
  pid: string;
  node: string;
  id: number;
  creation: number;
  label: string;
  name?: string;
  parent?: string;
  links: string[];
  queue: number;
  status: string;
}

export interface NodeSnapshot {
  node: string;
  time: number;
  peers: string[];
  faults: Record<string, unknown>;
  processes: ProcessView[];
  probes: Array<{ kind: string; owner: string; data: unknown }>;
  paxos: unknown[];
  /** EPaxos messages sent from this node: { partition, from, to, type, inst, ballot?, ... }. */
  epaxos: unknown[];
}

const pidView = (pid: Pid) => String(pid);

/** This node, now. */
export function snapshot(): NodeSnapshot {
  const procs: ProcessView[] = [];
  for (const pid of processes()) {
    const info = processInfo(pid);
    if (!info) continue;
    procs.push({
      pid: pidView(pid),
      node: pid.node,
      id: pid.id,
      creation: pid.creation,
      label: info.label,
      name: info.name,
      parent: info.parent ? pidView(info.parent) : undefined,
      links: info.links.map(pidView),
      queue: info.messageQueueLen,
      status: String(info.status),
    });
  }
  let peers: string[] = [];
  let faults: Record<string, unknown> = {};
  try {
    peers = Node.list();
    faults = Node.faultRules();
  } catch {
    // not a node: no peers
  }
  return {
    node: nodeName(),
    time: Date.now(),
    peers,
    faults,
    processes: procs,
    probes: readProbes().map((p) => ({ kind: p.kind, owner: pidView(p.owner), data: p.data })),
    // Events keep their values as they are; they become short text here, when asked for.
    paxos: recentEvents('paxos').map((e) => {
      const event = e as { value?: unknown };
      return event.value === undefined ? e : { ...event, value: shortValue(event.value) };
    }),
    // Small already (instance keys, a command id): as they are.
    epaxos: recentEvents('epaxos'),
  };
}

/** The global name of `node`'s observer. */
export const observerName = (node: string) => `observer:${node}`;

async function observer(): Promise<void> {
  register('observer', self());
  await Global.reRegister(observerName(nodeName()), self());
  for (;;) {
    const m = await receive();
    if (isCall(m) && (m.request as { observe?: boolean }).observe) reply(m.from, snapshot());
  }
}

/** Starts this node's observer (once). */
export function startObserver(): Pid {
  return whereis('observer') ?? spawnOpt(observer, [], { label: 'observer' });
}

/** Every reachable node's snapshot (this one first); a node that does not answer is skipped. */
export async function clusterSnapshot(timeoutMs = 2000): Promise<NodeSnapshot[]> {
  const here = snapshot();
  const others = await Promise.all(
    here.peers.map((node) => {
      const pid = Global.whereis(observerName(node));
      if (!pid) return null;
      return call<NodeSnapshot>(pid, { observe: true }, timeoutMs).catch(() => null);
    }),
  );
  return [here, ...others.filter((s): s is NodeSnapshot => s !== null)];
}
