// SeatReserve: the coursework's fault-tolerant seat reservation service for a 10x10 hall, on the
// same replicated log as the inventory (apps/rsm): one winner per seat, at every replica.
//
//   srs = ['s1', 's2', 's3'].map((s, _, all) => SeatReserve.start(s, all))
//   await SeatReserve.reserve(srs[0], 1, 5, 'ada')   // { ok: true, row: 1, seat: 5, holder: 'ada' }
import type { Pid } from '../../actors/index.ts';
import {
  addReplica,
  type CallOptions,
  type Membership,
  type ReconfigOptions,
  removeReplica,
  runOp,
  startReplica,
  status,
} from '../rsm/client.ts';
import { type Machine, requestId } from '../rsm/machine.ts';
import { type ReplicaStatus, replica, type ServiceOptions } from '../rsm/replica.ts';
import {
  applySeatOp,
  emptyHall,
  type ReserveResult,
  restoreHall,
  type SeatOp,
  type SeatResult,
  type SeatState,
  type SeatStatus,
  snapshotHall,
  validateSeatOp,
} from './machine.ts';

export type { ReserveResult, SeatStatus };

export const seatMachine: Machine<SeatState, SeatOp, SeatResult> = {
  service: 'seats',
  empty: emptyHall,
  validate: validateSeatOp,
  apply: applySeatOp,
  resultOf: (state, reqId) => state.results.get(reqId),
  snapshot: snapshotHall,
  restore: (snap) => restoreHall(snap as ReturnType<typeof snapshotHall>),
  describe: (state) => Object.fromEntries(state.holders),
  forgetResults: (state) => state.results.clear(),
  keysOf: (op) => (op.kind === 'status_all' ? ['*'] : [`${op.row}.${op.seat}`]),
};

export type Server = Pid | string;

function run<R>(server: Server, op: SeatOp, options: CallOptions): Promise<R> {
  return runOp<SeatState, SeatOp, SeatResult, R>(seatMachine, server, op, options);
}

export const SeatReserve = {
  /** Starts replica `name` of the replicas `participants`; returns its pid. */
  start(name: string, participants: string[], options?: ServiceOptions): Pid {
    return startReplica(seatMachine, name, participants, options);
  },
  /**
   * Reserves a seat (rows and seats 1..10) for `user`. Resolves { ok: true, ... }, or
   * { ok: false, error: 'taken', holder } if someone else holds it. A seat outside the hall is
   * misuse: the promise rejects with ActorError invalid_argument and nothing is proposed.
   */
  async reserve(
    srs: Server,
    row: number,
    seat: number,
    user: string,
    options: CallOptions = {},
  ): Promise<ReserveResult> {
    return await run<ReserveResult>(
      srs,
      { kind: 'reserve', reqId: options.reqId ?? requestId(), row, seat, user },
      options,
    );
  },
  /** { status: 'free' } or { status: 'taken', holder }, linearizable (read through the log). */
  async getStatus(
    srs: Server,
    row: number,
    seat: number,
    options: CallOptions = {},
  ): Promise<SeatStatus> {
    return await run<SeatStatus>(
      srs,
      { kind: 'status', reqId: options.reqId ?? requestId(), row, seat },
      options,
    );
  },
  /** The hall: rows of seats, each the holder's name or null (row 1 first). */
  getStatusAll(srs: Server, options: CallOptions = {}) {
    return run<Array<Array<string | null>>>(
      srs,
      { kind: 'status_all', reqId: options.reqId ?? requestId() },
      options,
    );
  },
  /**
   * Adds replica `name` while the service runs, through the log: it starts (on `options.node`,
   * or this node), catches up from a member's snapshot, and serves. Resolves the new
   * configuration { epoch, members, pid }; already_member if it is one.
   */
  addReplica(server: Server, name: string, options?: ReconfigOptions): Promise<Membership> {
    return addReplica(seatMachine, server, name, options);
  },
  /** Removes replica `name` through the log; it stops. not_member if it is none. */
  removeReplica(server: Server, name: string, options?: CallOptions): Promise<Membership> {
    return removeReplica(seatMachine, server, name, options);
  },
  status(srs: Server): Promise<ReplicaStatus> {
    return status('seats', srs);
  },
  /** The coursework's spellings. */
  get_status(srs: Server, row: number, seat: number, options?: CallOptions) {
    return SeatReserve.getStatus(srs, row, seat, options);
  },
  get_status_all(srs: Server, options?: CallOptions) {
    return SeatReserve.getStatusAll(srs, options);
  },
  /** The replica's body, for spawnOn(node, 'Services.seats', [name, participants]). */
  replica(name: string, participants: string[], options?: ServiceOptions): Promise<void> {
    return replica(seatMachine, name, participants, options);
  },
};
