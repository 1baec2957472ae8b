// Loaded by bench:paxos nodes as `BenchPaxos`: starts a participant there and keeps it up.
import { type Pid, receive } from '../../actors/index.ts';
import { Paxos } from '../../apps/paxos/index.ts';

/** Starts participant `name` with `upper` as its upper layer, then idles. */
export async function participant(name: string, participants: string[], upper: Pid): Promise<void> {
  Paxos.start(name, participants, upper);
  await receive((m) => m === 'never');
}
