// Call timeouts without one Node timer per call (a timer per call was a tenth of a call's cost).
// Calls made with the same timeout expire in the order they were made: one timer per lane.

interface Lane {
  readonly timeoutMs: number;
  /** Call ids, oldest first; entries before `head` are gone. Settled ids linger until pruned. */
  ids: number[];
  /** When each call expires (performance.now() milliseconds), parallel to `ids`. */
  dueAtMs: number[];
  head: number;
  timer: NodeJS.Timeout | null;
  /** Its timer is expiring calls (settled() then leaves the lane to fire()). */
  firing: boolean;
}

/** Slots a lane may waste at its front before its arrays are compacted. */
const LANE_SLACK_MAX = 1024;

export class Deadlines {
  private readonly lanes = new Map<number, Lane>();
  private readonly isPending: (id: number) => boolean;
  private readonly expire: (id: number) => void;

  /**
   * `isPending(id)` says whether call `id` still waits for its reply; `expire(id)` fails it
   * with a timeout (and must make `isPending(id)` false).
   */
  constructor(isPending: (id: number) => boolean, expire: (id: number) => void) {
    this.isPending = isPending;
    this.expire = expire;
  }

  /** Call `id` expires in `timeoutMs` (finite, positive) unless it settles first. */
  add(id: number, timeoutMs: number): void {
    let lane = this.lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = { timeoutMs, ids: [], dueAtMs: [], head: 0, timer: null, firing: false };
      this.lanes.set(timeoutMs, lane);
    }
    lane.ids.push(id);
    lane.dueAtMs.push(performance.now() + timeoutMs);
    if (lane.timer === null) this.arm(lane, timeoutMs);
  }

  /**
   * A call of this lane settled (or its caller died): drops settled calls from the lane's
   * front, and its timer once nothing is left, so no timer keeps Node alive for nothing.
   */
  settled(timeoutMs: number): void {
    const lane = this.lanes.get(timeoutMs);
    if (lane === undefined || lane.firing) return;
    const ids = lane.ids;
    while (lane.head < ids.length && !this.isPending(ids[lane.head]!)) lane.head++;
    this.tidy(lane);
  }

  private arm(lane: Lane, delayMs: number): void {
    lane.timer = setTimeout(() => this.fire(lane), Math.max(1, Math.ceil(delayMs)));
  }

  private fire(lane: Lane): void {
    lane.timer = null;
    lane.firing = true;
    const now = performance.now();
    try {
      while (lane.head < lane.ids.length) {
        const id = lane.ids[lane.head]!;
        if (this.isPending(id)) {
          if (lane.dueAtMs[lane.head]! > now) break;
          this.expire(id);
        }
        lane.head++;
      }
    } finally {
      lane.firing = false;
      this.tidy(lane);
    }
  }

  private tidy(lane: Lane): void {
    if (lane.head === lane.ids.length) {
      if (lane.timer !== null) clearTimeout(lane.timer);
      lane.timer = null;
      this.lanes.delete(lane.timeoutMs);
      return;
    }
    if (lane.head > LANE_SLACK_MAX && lane.head * 2 > lane.ids.length) {
      lane.ids = lane.ids.slice(lane.head);
      lane.dueAtMs = lane.dueAtMs.slice(lane.head);
      lane.head = 0;
    }
    if (lane.timer === null) this.arm(lane, lane.dueAtMs[lane.head]! - performance.now());
  }
}
