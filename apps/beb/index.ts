// Best-effort broadcast: bcSend(bcast, msg) delivers { type: 'bc_receive', origin, msg } to the
// upper layer at every neighbour (itself included). No retransmission: a crashed peer misses it.
import { ActorError, Global, type Pid, receive, self, send, spawnOpt } from '../../actors/index.ts';

export interface BcReceive<M = unknown> {
  type: 'bc_receive';
  origin: string;
  msg: M;
}

interface BcSend {
  type: 'bc_send';
  msg: unknown;
}

interface BcMsg {
  type: 'bc_msg';
  origin: string;
  msg: unknown;
}

async function broadcaster(name: string, neighbours: string[], upper: Pid): Promise<void> {
  await Global.reRegister(name, self());
  for (;;) {
    const m = await receive<BcSend | BcMsg>();
    if (m.type === 'bc_send') {
      for (const n of neighbours) {
        const pid = Global.whereis(n);
        if (pid) send(pid, { type: 'bc_msg', origin: name, msg: m.msg } satisfies BcMsg);
      }
    } else if (m.type === 'bc_msg') {
      send(upper, { type: 'bc_receive', origin: m.origin, msg: m.msg } satisfies BcReceive);
    }
  }
}

function checkArgs(name: unknown, neighbours: unknown): void {
  if (typeof name !== 'string' || name.length === 0)
    throw new ActorError('invalid_argument', 'BEB name must be a non-empty string');
  if (!Array.isArray(neighbours) || !neighbours.every((n) => typeof n === 'string')) {
    throw new ActorError('invalid_argument', 'BEB neighbours must be an array of names');
  }
}

export const BEB = {
  /** Starts a broadcaster registered globally as `name`; deliveries go to `upper`. */
  start(name: string, neighbours: string[], upper: Pid): Pid {
    checkArgs(name, neighbours);
    return spawnOpt(broadcaster, [name, [...neighbours], upper], { label: `BEB ${name}` });
  },
  /** As start, linked to the caller (a supervisor's child). */
  startLink(name: string, neighbours: string[], upper: Pid): Pid {
    checkArgs(name, neighbours);
    return spawnOpt(broadcaster, [name, [...neighbours], upper], {
      label: `BEB ${name}`,
      link: true,
    });
  },
  /** Broadcasts `msg` to every neighbour's upper layer. */
  bcSend(bcast: Pid | string, msg: unknown): void {
    send(bcast, { type: 'bc_send', msg } satisfies BcSend);
  },
  /** The coursework's spelling. */
  bc_send(bcast: Pid | string, msg: unknown): void {
    BEB.bcSend(bcast, msg);
  },
};
