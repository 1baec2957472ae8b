// A replicated service's replica on EPaxos (`protocol: 'epaxos'`): a front process registered
// as the service's replica, over the partition's EPaxos replica (apps/epaxos), which it starts.
//
// The front takes the same calls as the Multi-Paxos replica (`{ rsm: 'op' }`, `{ rsm: 'status' }`)
// and forwards each to the EPaxos replica with the caller's reply address, so the answer goes
// straight back to the caller once the operation has executed here. The operation's reqId is the
// command's id: a client's retry is applied once. The EPaxos replica's supervisor has the front
// as parent: killing the front stops the replica, and starting the front again starts it again
// from its durable records.
import {
  ActorError,
  type CallMessage,
  call,
  Global,
  isCall,
  receive,
  reply,
  self,
  send,
  sleep,
} from '../../actors/index.ts';
import { EPaxos } from '../epaxos/index.ts';
import type { EpaxosMachine } from '../epaxos/machine.ts';
import { majorityOf } from '../epaxos/replica.ts';
import { type EpaxosStatus, type ServerRequest, serverName } from '../epaxos/server.ts';
import type { ReplicaStatus } from './core.ts';
import type { Machine, Op } from './machine.ts';
import { replicaName, waitUntilGone } from './replica.ts';

/** Which replication protocol a service replica runs. */
export type Protocol = 'paxos' | 'epaxos';

/** How long calls wait while the supervisor restarts the EPaxos replica. */
const RESTART_WAIT_MS = 5_000;
/** How long a starting front waits for a majority of the partition's replicas. */
const STARTUP_WAIT_MS = 2_000;

/**
 * The replica status the services' callers know (apps/rsm/core.ts ReplicaStatus), from the
 * EPaxos replica's: positions are counts of executed instances (there is no single log), every
 * replica leads its own commands; the EPaxos view itself rides along.
 */
export function asReplicaStatus(
  name: string,
  st: EpaxosStatus,
): ReplicaStatus & { protocol: 'epaxos'; epaxos: EpaxosStatus } {
  return {
    name,
    applied: st.instances.executed,
    waiting: st.instances.committed - st.instances.executed,
    leader: name,
    pending: st.waiting,
    inflight: st.instances.leading,
    snapshotAt: 0,
    ready: true,
    protocol: 'epaxos',
    epaxos: st,
  };
}

/** The service's machine as EPaxos executes it: a retried operation returns its first result. */
export function epaxosMachine<S, O extends Op, R>(machine: Machine<S, O, R>): EpaxosMachine<S, R> {
  return {
    empty: () => machine.empty(),
    validate: (op) => machine.validate(op),
    apply(state, op) {
      const o = op as O;
      const earlier = machine.resultOf(state, o.reqId);
      return earlier !== undefined ? earlier : machine.apply(state, o);
    },
    describe: machine.describe ? (state) => machine.describe!(state) : undefined,
    snapshot: (state) => machine.snapshot(state),
    restore: (snapshot) => machine.restore(snapshot),
  };
}

/** The front's body (a process function). */
export async function epaxosFront<S, O extends Op, R>(
  machine: Machine<S, O, R>,
  name: string,
  procs: string[],
): Promise<void> {
  const keysOf = machine.keysOf;
  if (!keysOf)
    throw new ActorError(
      'invalid_argument',
      `the ${machine.service} machine has no keysOf: it cannot run on EPaxos`,
    );
  const partition = machine.service;
  const server = serverName(partition, name);
  // A previous incarnation's replica stops with its front; wait until it has.
  await waitUntilGone(server);
  await EPaxos.stop(partition, name).catch(() => undefined);
  EPaxos.init(partition, procs, procs.indexOf(name) + 1, {
    machine: epaxosMachine(machine),
    linked: true,
  });
  if (!(await Global.register(replicaName(machine.service, name), self())))
    throw new ActorError(
      'name_taken',
      `a ${machine.service} replica named '${name}' is already registered`,
    );
  const majority = majorityOf(procs.length);
  const names = procs.map((p) => serverName(partition, p));
  // Replicas started together come up together: calls wait in the mailbox until a majority is
  // registered (or STARTUP_WAIT_MS passed), rather than being refused while they start.
  const upBy = performance.now() + STARTUP_WAIT_MS;
  while (
    (!Global.whereis(server) || names.filter((n) => Global.whereis(n)).length < majority) &&
    performance.now() < upBy
  )
    await sleep(5);
  /** This replica's EPaxos process; while its supervisor restarts it, the calls wait. */
  const local = async () => {
    const by = performance.now() + RESTART_WAIT_MS;
    let pid = Global.whereis(server);
    while (!pid && performance.now() < by) {
      await sleep(5);
      pid = Global.whereis(server);
    }
    return pid;
  };
  for (;;) {
    const m = await receive<CallMessage>();
    if (!isCall(m)) continue;
    const req = m.request as { rsm?: string; op?: O };
    const pid = await local();
    if (req.rsm === 'op' && req.op) {
      // Fewer than a majority reachable: say so at once, as the seed's eepaxos does.
      if (names.filter((n) => Global.whereis(n)).length < majority) {
        reply(m.from, {
          rsmError: {
            code: 'exceed_failure_tolerant',
            message: `fewer than ${majority} of the ${procs.length} ${machine.service} replicas are reachable`,
          },
        });
        continue;
      }
      if (!pid) continue; // its supervisor gave up: the caller times out
      const op = req.op;
      const request: ServerRequest = {
        op: 'propose',
        cmd: { id: op.reqId, keys: keysOf(op), op },
        raw: true,
      };
      send(pid, { type: '$call', from: m.from, request } satisfies CallMessage<ServerRequest>);
    } else if (req.rsm === 'status' && pid) {
      const st = await call<EpaxosStatus>(pid, { op: 'status' } satisfies ServerRequest).catch(
        () => undefined,
      );
      if (st) reply(m.from, asReplicaStatus(name, st));
    }
  }
}
