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
  receive,
  self,
  send,
  sleep,
  spawn,
  spawnLink,
  TIMEOUT,
} from '../../actors/index.ts';
import { resetRuntime, until } from '../helpers.ts';

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
  ): unknown;
  configurePersistence(engine: unknown): (sys: unknown) => unknown;
  dispatch(ref: unknown, msg: unknown, sender?: unknown): void;
  query(ref: unknown, msg: unknown, timeoutMs?: number): Promise<unknown>;
  stop(ref: unknown): void;
};
const n = nact as unknown as Api;
const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('nact trap 1: stop is not recursive', () => {
  it('nact: stopping a parent leaves its child running (its afterStop never runs)', async () => {
    const system = n.start();
    const stopped: string[] = [];
    let childTicks = 0;
    const parent = n.spawn(system, (s) => s, 'parent', { afterStop: () => stopped.push('parent') });
    const child = n.spawn(
      parent,
      (s) => {
        const timer = setInterval(() => childTicks++, 1);
        setTimeout(() => clearInterval(timer), 40);
        return s;
      },
      'child',
      { afterStop: () => stopped.push('child') },
    );
    n.dispatch(child, 'start ticking');
    await tick(5);
    n.stop(parent);
    const ticksAtStop = childTicks;
    await tick(30);
    expect(stopped).toEqual(['parent']);
    expect(childTicks).toBeGreaterThan(ticksAtStop);
    n.stop(system);
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
    await until(() => !isAlive(child));
  });
});

describe('nact trap 2: escalate answered with resume wedges the child', () => {
  it('nact: the child never handles another message', async () => {
    const system = n.start();
    const handled: unknown[] = [];
    const parent = n.spawn(system, (s) => s, 'sup', {
      onCrash: (_m: unknown, _e: unknown, ctx: { resume: symbol }) => ctx.resume,
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
    await tick(10);
    n.dispatch(child, 'after');
    await tick(30);
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
        setTimeout(() => n.dispatch(sender, value), 5);
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
    await tick(10);
    expect(got).toEqual(['meant for the old one']);
    n.stop(system);
  });
  // runtime: pids are never reused; see receive.test.ts ("pids are never reused").
});

describe('nact trap 4: a handler awaiting while its actor is stopped keeps running', () => {
  it('nact: the handler finishes after stop', async () => {
    const system = n.start();
    let finished = false;
    const actor = n.spawn(
      system,
      async (s) => {
        await tick(20);
        finished = true;
        return s;
      },
      'slow',
    );
    n.dispatch(actor, 'go');
    await tick(5);
    n.stop(actor);
    await tick(40);
    expect(finished).toBe(true);
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
    await tick(20);
    expect(handled).toEqual(['block']);
    n.stop(actor);
    n.stop(system);
  });

  it('runtime: a process waiting in a selective receive still takes messages in', async () => {
    const pid = spawn(() => receive((m) => m === 'the one'));
    for (let i = 0; i < 5; i++) send(pid, i);
    await sleep(20);
    expect(await messageQueueLen(pid)).toBe(5);
    send(pid, 'the one');
    await until(() => !isAlive(pid));
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
        const actor = n.spawnPersistent(
          system,
          (s, msg) => {
            handled.push(msg);
            return s;
          },
          `key-${label}`,
          `p-${label.replace(' ', '-')}`,
        );
        n.dispatch(actor, 'hello');
        await tick(20);
        expect(handled, label).toEqual(expected);
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
    await sleep(5);
    kill(a);
    await until(() => !isAlive(b));
    expect(await receive(null, 0)).toBe(TIMEOUT);
  });
});
