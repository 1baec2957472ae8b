// Functions the fuzz target node runs (loaded there with --load FuzzFns=...): the state the
// fuzzer puts on the target before fuzzing and checks during and after it.
import {
  Global,
  isCall,
  type Pid,
  receive,
  register,
  reply,
  self,
  send,
} from '../../actors/index.ts';

type StoreRequest =
  | { op: 'put'; key: string; value: unknown }
  | { op: 'get'; key: string }
  | { op: 'add'; a: number; b: number }
  | { op: 'stray' }
  | { op: 'whereis'; name: string };

/** A lookup sent to the store's local name (a call cannot go to a remote name). */
type ByName = { byName: string; key: string; to: Pid };

function isByName(m: unknown): m is ByName {
  return typeof m === 'object' && m !== null && 'byName' in m && 'to' in m && 'key' in m;
}

/**
 * A key-value store: registers itself locally as `fuzz_store` and globally as `globalName`,
 * tells `to` `{ stored: ok, pid }`, then answers calls (and `{ byName, key, to }` lookups)
 * forever. Any other message (the fuzzer sends none) is counted as stray: a forged frame that
 * got through.
 */
export async function store(globalName: string, to: Pid): Promise<void> {
  register('fuzz_store', self());
  const ok = await Global.register(globalName, self());
  send(to, { stored: ok, pid: self() });
  const data = new Map<string, unknown>();
  let stray = 0;
  for (;;) {
    const m = await receive();
    if (isByName(m)) {
      send(m.to, { byName: m.byName, value: data.has(m.key) ? data.get(m.key) : null });
      continue;
    }
    if (!isCall(m)) {
      stray++;
      continue;
    }
    const req = m.request as StoreRequest;
    switch (req.op) {
      case 'put':
        data.set(req.key, req.value);
        reply(m.from, true);
        break;
      case 'get':
        reply(m.from, data.has(req.key) ? data.get(req.key) : null);
        break;
      case 'add':
        reply(m.from, req.a + req.b);
        break;
      case 'stray':
        reply(m.from, stray);
        break;
      case 'whereis':
        reply(m.from, Global.whereis(req.name) ?? null);
        break;
      default:
        reply(m.from, { error: 'unknown op' });
    }
  }
}

/** Answers one call with `{ echo: request }`, then exits (remote spawn still works). */
export async function once(): Promise<void> {
  const m = await receive(isCall);
  reply(m.from, { echo: m.request });
}
