// Processes the benchmarks spawn on other nodes (loaded into bench nodes as `Bench`).
import { type Pid, receive, send } from '../../actors/index.ts';

/** Replies to `{ from, n }` with `{ n }`, forever. */
export async function echo(): Promise<void> {
  for (;;) {
    const m = await receive<{ from: Pid; n: number }>();
    send(m.from, { n: m.n });
  }
}

/** Takes `count` messages, then tells `to` how many it took. */
export async function counter(count: number, to: Pid): Promise<void> {
  for (let i = 0; i < count; i++) await receive();
  send(to, { counted: count });
}
