// Regression tests for the nact 7.6.2 behaviours the runtime routes around (shared/NACT_NOTES.md).
// Each first shows nact's own behaviour, so an upgrade that changes it fails here and the
// runtime's workaround can be revisited; then it shows the runtime's answer to the trap.
import { spawnSync } from 'node:child_process';
import nact from 'nact';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isAlive,
  kill,
  link,
  messageQueueLen,
  processInfo,
  receive,
  self,
  send,
  spawn,
  spawnLink,
  TIMEOUT,
} from '../../actors/index.ts';
import { barrier, resetRuntime, untilDelivered, untilWaiting, waitUntil } from '../helpers.ts';

afterEach(resetRuntime);

// nact's typings are loose (trap 8); this is the untyped surface the tests poke at.
type Api = {
  start(...args: unknown[]): unknown;
  spawn(
    parent: unknown,
    f: (state: unknown, msg: unknown, ctx: Record<string, unknown>) => unknown,
    name?: string,
    props?: Record<string, unknown>,
  ): { name: string };
  spawnStateless(
    parent: unknown,
    f: (msg: unknown, ctx: Record<string, unknown>) => unknown,
    name?: string,
  ): unknown;
  spawnPersistent(
    parent: unknown,
    f: (state: unknown, msg: unknown) => unknown,
    key: string,
    name?: string,
    props?: Record<string, unknown>,
  ): unknown;
  configurePersistence(engine: unknown): (sys: unknown) => unknown;
  dispatch(ref: unknown, msg: unknown, sender?: unknown): void;
  query(ref: unknown, msg: unknown, timeoutMs?: number): Promise<unknown>;
  stop(ref: unknown): void;
};
const n = nact as unknown as Api;
let probes = 0;

/**
 * Resolves once a probe actor of `system`, dispatched to now, has handled its message. nact
 * handles each message in its own setImmediate, in order of dispatch: a message dispatched
 * earlier to an idle actor has been handled by then. The barrier before a "never handled".
 */
async function nactTurn(system: unknown): Promise<void> {
  let handled = false;
  const probe = n.spawn(
    system,
    (s) => {
      handled = true;
      return s;
    },
    `probe-${++probes}`,
  );
  n.dispatch(probe, 'probe');
  await waitUntil(() => handled, 'a nact probe actor to handle its message');
  n.stop(probe);
}

describe('nact trap 1: stop is not recursive', () => {
  it('nact: stopping a parent leaves its child running (its afterStop never runs)', async () => {
    const system = n.start();
    const stopped: string[] = [];
    let childTicks = 0;
    let timer: NodeJS.Timeout | undefined;
    const parent = n.spawn(system, (s) => s, 'parent', { afterStop: () => stopped.push('parent') });
    const child = n.spawn(
      parent,
      (s) => {
        timer = setInterval(() => childTicks++, 1);
        return s;
      },
      'child',
      { afterStop: () => stopped.push('child') },
    );
    try {
      n.dispatch(child, 'start ticking');
      await waitUntil(() => childTicks > 0, 'the child to start ticking');
      n.stop(parent);
      const ticksAtStop = childTicks;
      // A recursive stop would queue the child's afterStop before the parent's.
      await waitUntil(
        () => stopped.includes('parent') && childTicks > ticksAtStop,
        "the parent's afterStop and a child tick after the stop",
      );
      expect(stopped).toEqual(['parent']);
    } finally {
      clearInterval(timer);
      n.stop(system);
    }
  });

  it('runtime: a linked child dies with its killed parent', async () => {
    const me = self();
    const parent = spawn(async () => {
      send(
        me,
        spawnLink(() => receive()),
      );
      await receive();
    });
    const child = (await receive(null, 1000)) as ReturnType<typeof self>;
    kill(parent);
    await waitUntil(() => !isAlive(child), 'the linked child to die');
  });
});

describe('nact trap 2: escalate answered with resume wedges the child', () => {
  it('nact: the child never handles another message', async () => {
    const system = n.start();
    const handled: unknown[] = [];
    let escalated = false;
    const parent = n.spawn(system, (s) => s, 'sup', {
      onCrash: (_m: unknown, _e: unknown, ctx: { resume: symbol }) => {
        escalated = true;
        return ctx.resume;
      },
    });
    const child = n.spawn(
      parent,
      (s, msg) => {
        if (msg === 'crash') throw new Error('crash');
        handled.push(msg);
        return s;
      },
      'worker',
      { onCrash: (_m: unknown, _e: unknown, ctx: { escalate: symbol }) => ctx.escalate },
    );
    n.dispatch(child, 'crash');
    await waitUntil(() => escalated, 'the crash to reach the parent');
    await nactTurn(system); // the parent's resume has run
    n.dispatch(child, 'after');
    await nactTurn(system); // an idle child would have handled 'after' by now
    expect(handled).toEqual([]); // wedged
    n.stop(child);
    n.stop(parent);
    n.stop(system);
  });
});

describe('nact trap 3: query temp-ref ids are random', () => {
  it('nact: two queries that draw the same random id get crossed replies', async () => {
    const system = n.start();
    const echo = n.spawnStateless(
      system,
      (msg, ctx) => {
        const { sender, value } = msg as { sender: unknown; value: number };
        setTimeout(() => n.dispatch(sender, value), 5); // a late reply: both queries are in flight
        void ctx;
      },
      'echo',
    );
    const random = Math.random;
    Math.random = () => 0.25; // what happens when ids collide, as they did at ~200k queries
    let first: Promise<unknown>;
    let second: Promise<unknown>;
    try {
      first = n.query(echo, (sender: unknown) => ({ sender, value: 1 }), 200);
      second = n.query(echo, (sender: unknown) => ({ sender, value: 2 }), 200);
    } finally {
      Math.random = random;
    }
    const results = await Promise.allSettled([first, second]);
    const values = results.map((r) => (r.status === 'fulfilled' ? r.value : 'timeout'));
    expect(values).not.toEqual([1, 2]);
    n.stop(system);
  });
  // runtime: call references are monotonically increasing; see genserver.test.ts
  // ("thousands of concurrent calls each get their own reply").
});

describe('nact: reused names reach the new actor', () => {
  it('nact: an old ref reaches a new actor spawned under the same name', async () => {
    const system = n.start();
    const got: string[] = [];
    const a = n.spawn(system, (s) => s, 'same');
    n.stop(a);
    n.spawn(
      system,
      (s, msg) => {
        got.push(String(msg));
        return s;
      },
      'same',
    );
    n.dispatch(a, 'meant for the old one');
    await waitUntil(() => got.length > 0, 'the new actor to get a message');
    expect(got).toEqual(['meant for the old one']);
    n.stop(system);
  });
  // runtime: pids are never reused; see receive.test.ts ("pids are never reused").
});

describe('nact trap 4: a handler awaiting while its actor is stopped keeps running', () => {
  it('nact: the handler finishes after stop', async () => {
    const system = n.start();
    let started = false;
    let finished = false;
    const actor = n.spawn(
      system,
      async (s) => {
        started = true;
        await new Promise((r) => setTimeout(r, 20)); // the workload, still running at the stop
        finished = true;
        return s;
      },
      'slow',
    );
    n.dispatch(actor, 'go');
    await waitUntil(() => started, 'the handler to start');
    n.stop(actor);
    expect(finished).toBe(false);
    await waitUntil(() => finished, 'the handler to finish after the stop');
    n.stop(system);
  });
  // runtime: a killed process's leftover code cannot send; see receive.test.ts.
});

describe('nact trap 5: a handler that never settles blocks the actor', () => {
  it('nact: later messages are never handled', async () => {
    const system = n.start();
    const handled: unknown[] = [];
    const actor = n.spawn(
      system,
      async (s, msg) => {
        handled.push(msg);
        if (msg === 'block') await new Promise(() => {});
        return s;
      },
      'blocked',
    );
    n.dispatch(actor, 'block');
    n.dispatch(actor, 'next');
    await waitUntil(() => handled.length > 0, "the actor to take 'block'");
    await nactTurn(system); // 'next' would have been handled by now
    expect(handled).toEqual(['block']);
    n.stop(actor);
    n.stop(system);
  });

  it('runtime: a process waiting in a selective receive still takes messages in', async () => {
    const pid = spawn(() => receive((m) => m === 'the one'));
    for (let i = 0; i < 5; i++) send(pid, i);
    await untilDelivered(pid); // nact handed all five over while the process waits
    expect(await messageQueueLen(pid)).toBe(5);
    expect(processInfo(pid)?.status).toBe('waiting');
    send(pid, 'the one');
    await waitUntil(() => !isAlive(pid), "the process to take 'the one' and end");
  });
});

describe('nact trap 6: query without a timeout', () => {
  it('nact: throws synchronously', () => {
    const system = n.start();
    const actor = n.spawn(system, (s) => s, 'q');
    expect(() => n.query(actor, 'x')).toThrow(/timeout is required/);
    expect(() => n.query(actor, 'x', 0)).toThrow(/timeout is required/);
    n.stop(system);
  });
});

describe('nact trap 7: ESM named time helpers', () => {
  it('nact: `import { seconds } from "nact"` fails under plain Node ESM; the default export works', () => {
    const run = (code: string) =>
      spawnSync(process.execPath, ['--input-type=module', '-e', code], {
        cwd: process.cwd(),
        encoding: 'utf8',
      });
    const named = run("import { seconds } from 'nact'; console.log(seconds)");
    expect(named.status).not.toBe(0);
    expect(named.stderr).toMatch(/SyntaxError/);
    const viaDefault = run("import nact from 'nact'; console.log(nact.seconds, typeof nact.spawn)");
    expect(viaDefault.stdout.trim()).toBe('1000 function');
  });
});

describe('nact trap 8: start(name) ignores a bare string name', () => {
  it("nact: start('x') gets a random system name; start({ name }) keeps it", () => {
    const a = n.start('wanted') as { name: string };
    const b = n.start({ name: 'kept' }) as { name: string };
    expect(a.name).not.toBe('wanted');
    expect(b.name).toBe('kept');
    n.stop(a);
    n.stop(b);
  });
});

describe('nact trap 9: persistence events() must be synchronous', () => {
  const engine = (events: () => unknown) => ({
    latestSnapshot: async () => undefined,
    takeSnapshot: async () => undefined,
    events,
    persist: async (e: unknown) => e,
  });

  it('nact: an engine whose events() returns a Promise never recovers', async () => {
    const quiet = console.log;
    console.log = () => {};
    try {
      for (const [label, events, expected] of [
        ['sync array', () => [], ['hello']],
        ['promise', async () => [], []],
      ] as const) {
        const system = n.start(n.configurePersistence(engine(events)));
        const handled: unknown[] = [];
        let crashed: unknown;
        const actor = n.spawnPersistent(
          system,
          (s, msg) => {
            handled.push(msg);
            return s;
          },
          `key-${label}`,
          `p-${label.replace(' ', '-')}`,
          {
            onCrash: (_m: unknown, err: unknown, ctx: { stop: symbol }) => {
              crashed = err;
              return ctx.stop;
            },
          },
        );
        n.dispatch(actor, 'hello');
        // Either the message is handled or the recovery fails (and 'hello' never will be).
        await waitUntil(
          () => handled.length > 0 || crashed !== undefined,
          `the ${label} actor to handle 'hello' or fail its recovery`,
        );
        await nactTurn(system);
        expect(handled, label).toEqual(expected);
        expect(crashed === undefined, label).toBe(expected.length > 0);
        n.stop(system);
      }
    } finally {
      console.log = quiet;
    }
  });
});

describe('runtime: links work where nact offers none', () => {
  it('link then kill', async () => {
    const a = spawn(() => receive());
    const b = spawn(async (peer) => {
      link(peer);
      await receive();
    }, a);
    await untilWaiting(b, 'b (linked to a)');
    kill(a);
    await waitUntil(() => !isAlive(b), 'b to die with a');
    await barrier(); // any message the deaths sent here has arrived
    expect(await receive(null, 0)).toBe(TIMEOUT);
  });
});
