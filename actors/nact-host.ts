// The one place that touches nact: a typed wrapper that hosts each process as one nact actor.
// nact's handler only hands each message to the runtime's mailbox, so it never blocks (trap 5).
import nact from 'nact';

/** What the runtime needs from nact for one process. */
export interface HostedActor {
  /** Queues a message; nact delivers it in order, each in its own event-loop turn (the
   * kernel sends one per burst of messages to the process, not one per message). */
  dispatch(msg: unknown): void;
  /** Stops the nact actor; messages still queued in nact are dropped. */
  stop(): void;
}

// nact's concrete actor, reached through a system plugin (nact exposes no typed accessor).
interface ConcreteActor {
  stopped: boolean;
  /** What nact's `dispatch(ref, msg)` calls once it has found the actor by its path. */
  dispatch(msg: unknown): void;
}
interface ConcreteSystem {
  find(ref: unknown): ConcreteActor | undefined;
}

// Untyped view of nact's functions: its declarations lack `sender`, ignore names and do not
// check message types (trap 8), so the rest of the code only sees HostedActor.
interface NactApi {
  start(...plugins: Array<(sys: ConcreteSystem) => void>): unknown;
  spawn(
    parent: unknown,
    f: (state: unknown, msg: unknown) => unknown,
    name: string,
    props: { onCrash: (msg: unknown, err: unknown, ctx: { stop: symbol }) => symbol },
  ): unknown;
  stop(ref: unknown): void;
}

const api = nact as unknown as NactApi;

export class NactHost {
  private readonly system: unknown;
  private concrete!: ConcreteSystem;

  constructor() {
    this.system = api.start((sys) => {
      this.concrete = sys;
    });
  }

  /**
   * Spawns the nact actor for one process. `name` must be unique for the life of the host
   * (nact reuses paths: trap "reused names"). `deliver` runs once per message, in order.
   * `onCrash` runs if `deliver` ever throws (it should not); the actor is then stopped.
   */
  spawn(
    name: string,
    deliver: (msg: unknown) => void,
    onCrash: (err: unknown) => void,
  ): HostedActor {
    const ref = api.spawn(
      this.system,
      (state, msg) => {
        deliver(msg);
        return state;
      },
      name,
      {
        onCrash: (_msg, err, ctx) => {
          onCrash(err);
          return ctx.stop;
        },
      },
    );
    const actor = this.concrete.find(ref);
    if (!actor) throw new Error(`nact did not create actor ${name}`);
    return {
      // Straight to the actor found at spawn: nact's dispatch would walk its path each time.
      dispatch: (msg) => {
        if (!actor.stopped) actor.dispatch(msg);
      },
      stop: () => api.stop(ref),
    };
  }
}
