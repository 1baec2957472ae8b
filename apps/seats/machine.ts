// The seat-reservation state machine: a 10x10 hall, each seat free or held by one user. Every
// replica applies the same log with this pure function, so every replica agrees on each seat.
import { ActorError, showValue } from '../../actors/index.ts';
import { opFields, remember } from '../rsm/machine.ts';

export const ROWS = 10;
export const SEATS_PER_ROW = 10;

export type SeatOp =
  | { kind: 'reserve'; reqId: string; row: number; seat: number; user: string }
  /** Reads placed in the log, so they reflect every reservation decided before them. */
  | { kind: 'status'; reqId: string; row: number; seat: number }
  | { kind: 'status_all'; reqId: string };

export type SeatStatus = { status: 'free' } | { status: 'taken'; holder: string };

export type ReserveResult =
  | { ok: true; row: number; seat: number; holder: string }
  | { ok: false; error: 'taken'; row: number; seat: number; holder: string };

export type SeatResult = ReserveResult | SeatStatus | Array<Array<string | null>>;

export interface SeatState {
  /** Holder by seat key `row:seat`. */
  holders: Map<string, string>;
  /** Results of applied reservations by reqId, oldest first (bounded). */
  results: Map<string, ReserveResult>;
}

export const RESERVATIONS_REMEMBERED = 100_000;

export function emptyHall(): SeatState {
  return { holders: new Map(), results: new Map() };
}

/** Rows and seats are numbered from 1, as in a theatre. */
export function validSeat(row: unknown, seat: unknown): boolean {
  return (
    Number.isInteger(row) &&
    Number.isInteger(seat) &&
    (row as number) >= 1 &&
    (row as number) <= ROWS &&
    (seat as number) >= 1 &&
    (seat as number) <= SEATS_PER_ROW
  );
}

/** Rejects malformed operations before anything is proposed (typed invalid_argument errors). */
export function validateSeatOp(op: unknown): asserts op is SeatOp {
  const o = opFields(op);
  switch (o.kind) {
    case 'reserve':
      if (typeof o.user !== 'string' || o.user.trim().length === 0) {
        throw new ActorError(
          'invalid_argument',
          `a user must be a non-empty string, got ${showValue(o.user)}`,
        );
      }
      if (!validSeat(o.row, o.seat)) throw invalidSeat(o.row, o.seat);
      return;
    case 'status':
      if (!validSeat(o.row, o.seat)) throw invalidSeat(o.row, o.seat);
      return;
    case 'status_all':
      return;
    default:
      throw new ActorError('invalid_argument', `unknown operation kind ${showValue(o.kind)}`);
  }
}

function invalidSeat(row: unknown, seat: unknown): ActorError {
  return new ActorError(
    'invalid_argument',
    `no seat ${showValue(row)}/${showValue(seat)}: rows are 1..${ROWS}, seats 1..${SEATS_PER_ROW}`,
  );
}

const key = (row: number, seat: number) => `${row}:${seat}`;

/** Applies one operation. A seat goes to the first reservation in the log; a retry gets its first answer. */
export function applySeatOp(state: SeatState, op: SeatOp): SeatResult {
  switch (op.kind) {
    case 'status': {
      const holder = state.holders.get(key(op.row, op.seat));
      return holder === undefined ? { status: 'free' } : { status: 'taken', holder };
    }
    case 'status_all':
      return Array.from({ length: ROWS }, (_, r) =>
        Array.from(
          { length: SEATS_PER_ROW },
          (_, s) => state.holders.get(key(r + 1, s + 1)) ?? null,
        ),
      );
    case 'reserve': {
      const previous = state.results.get(op.reqId);
      if (previous) return previous;
      const { row, seat, user } = op;
      const holder = state.holders.get(key(row, seat));
      let result: ReserveResult;
      if (holder === undefined || holder === user) {
        state.holders.set(key(row, seat), user);
        result = { ok: true, row, seat, holder: user };
      } else {
        result = { ok: false, error: 'taken', row, seat, holder };
      }
      remember(state.results, op.reqId, result, RESERVATIONS_REMEMBERED);
      return result;
    }
  }
}

export function snapshotHall(state: SeatState): {
  holders: Array<[string, string]>;
  results: Array<[string, ReserveResult]>;
} {
  return { holders: [...state.holders], results: [...state.results] };
}

export function restoreHall(snap: ReturnType<typeof snapshotHall>): SeatState {
  return { holders: new Map(snap.holders), results: new Map(snap.results) };
}
