// Runs the demo and kill-and-restart scripts as a user would and checks what they print, that
// they exit 0, and that no node process they launched outlives them.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { scaledMs } from '../../transport/timeouts.ts';
import { waitUntil } from '../helpers.ts';
import { liveInGroup } from '../session.ts';

const SCRIPT_TIMEOUT_MS = scaledMs(80_000);
const TEST_TIMEOUT_MS = scaledMs(90_000);

// Each script runs in its own process group (detached), so killing the group also ends the
// node processes it launched, whatever state a failed test left it in.
const children = new Set<ChildProcess>();
function killAll(): void {
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
  children.clear();
}
afterEach(killAll);
afterAll(killAll);

interface Run {
  code: number | null;
  out: string;
  /** Processes of the script's group still alive a few seconds after it exited. */
  leftover: number[];
}

/** Runs scripts/<script>.ts to its end; stdout and stderr interleaved in `out`. */
async function run(script: string, ...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', `scripts/${script}.ts`, ...args], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  children.add(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const timer = setTimeout(() => {
    out += `\n[test] ${script} still running after ${SCRIPT_TIMEOUT_MS} ms: killed\n`;
    process.kill(-child.pid!, 'SIGKILL');
  }, SCRIPT_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  // Its node processes get a moment to follow it out; the test then shows whatever is left.
  await waitUntil(
    () => liveInGroup(child.pid!).length === 0,
    `the processes ${script} started to end`,
    scaledMs(5000),
  ).catch(() => {});
  return { code, out, leftover: liveInGroup(child.pid!) };
}

/** The first match of `re` in `out` (the test fails with the transcript otherwise). */
function find(out: string, re: RegExp): RegExpMatchArray {
  const m = out.match(re);
  expect(m, `${re} not in:\n${out}`).not.toBeNull();
  return m!;
}

describe('demo:inventory', () => {
  it(
    'in-process, 3 rounds: one winner each, all-or-nothing order, a retry applied once',
    async () => {
      const { code, out, leftover } = await run('demo-inventory', '--rounds', '3');
      expect(code, out).toBe(0);
      expect(leftover).toEqual([]);
      expect(out).toContain('3 inventory replicas p1, p2, p3 in this process');
      for (const round of [1, 2, 3]) {
        // three buyers, each at a different replica: one wins, two are refused
        const m = find(
          out,
          new RegExp(
            `round ${round}: buyer-\\d@(p\\d) got it; buyer-\\d@(p\\d), buyer-\\d@(p\\d) refused \\(insufficient_stock\\); left: 0, 0, 0`,
          ),
        );
        expect(new Set(m.slice(1, 4)).size).toBe(3);
      }
      expect(out).toContain(
        'order 1 apple + 2 pears at p3: refused (insufficient_stock), stock unchanged {"apple":2,"pear":1}',
      );
      expect(out).toContain(
        'order 1 apple + 1 pear at p3: {"ok":true,"stock":{"apple":1,"pear":0}}',
      );
      expect(out).toContain('gifts in stock: 1');
      expect(out).toContain('every replica: {"apple":1,"gift":1}');
      expect(out).toContain('3 rounds, 3 winners, 6 refused, stock 0 at p1, p2, p3: OK');
      expect(out).not.toContain('FAILED');
    },
    TEST_TIMEOUT_MS,
  );
});

describe('demo:seats', () => {
  for (const args of [[], ['--cluster']]) {
    it(
      `${args.length ? 'with --cluster' : 'in-process'}: one winner, the others serve and agree after a kill`,
      async () => {
        const { code, out, leftover } = await run('demo-seats', ...args);
        expect(code, out).toBe(0);
        expect(leftover).toEqual([]);
        expect(out).toContain(
          `3 seat replicas p1, p2, p3 ${args.length ? 'in 3 node processes' : 'in this process'}`,
        );
        // one of ada, bob, cy reserved row 5 seat 5; the two others were told who holds it
        const won = out.match(/^(ada|bob|cy) at p\d: reserved row 5 seat 5$/gm) ?? [];
        expect(won, out).toHaveLength(1);
        const holder = won[0]!.split(' ')[0]!;
        const told = out.match(/^(ada|bob|cy) at p\d: taken \(held by (\w+)\)$/gm) ?? [];
        expect(told, out).toHaveLength(2);
        for (const line of told) expect(line).toContain(`(held by ${holder})`);
        expect(out).toContain(
          `killed p1 (${args.length ? 'SIGKILL of its node process' : 'the replica actor'})`,
        );
        expect(out).toContain('dan at p2: reserved row 5 seat 6; eve at p3: taken (held by dan)');
        for (const p of ['p2', 'p3'])
          expect(out).toContain(
            `status at ${p}: row 5 seat 5 {"status":"taken","holder":"${holder}"}, seat 6 {"status":"taken","holder":"dan"}`,
          );
        expect(out).toMatch(
          new RegExp(`row {2}5 {6}\\. \\. \\. \\. ${holder[0]} d \\. \\. \\. \\.`),
        );
        expect(out.match(/^ {2}row +\d+ {6}\. \. \. \. \. \. \. \. \. \.$/gm)).toHaveLength(9);
        expect(out).toContain(
          `one winner of row 5 seat 5 (${holder}); p2 and p3 serve and agree with p1 down: OK`,
        );
      },
      TEST_TIMEOUT_MS,
    );
  }
});

describe('kill-restart', () => {
  for (const [mode, downMs] of [
    ['node', '800'],
    ['actor', '500'],
  ] as const) {
    it(
      `--mode ${mode} --down-ms ${downMs}: serves while p2 is down, p2 catches up, nothing acknowledged lost`,
      async () => {
        const { code, out, leftover } = await run(
          'kill-restart',
          '--mode',
          mode,
          '--down-ms',
          downMs,
        );
        expect(code, out).toBe(0);
        expect(leftover).toEqual([]);
        expect(Number(find(out, /load running: (\d+) adds acknowledged/)[1])).toBeGreaterThan(0);
        expect(out).toContain(
          mode === 'node'
            ? 'SIGKILLed node p2'
            : 'killed the replica actor inventory:p2 (its node stays up)',
        );
        const meanwhile = find(
          out,
          /still serving with p2 down: (\d+) adds acknowledged meanwhile; view at p1: \{"load":\d+\}/,
        );
        expect(Number(meanwhile[1]), out).toBeGreaterThan(0);
        expect(out).toMatch(/restarted p2 \(#PID<p2\.\d+>\)/);
        expect(out).toMatch(/p2 applied \d+ \(waiting 0\), p1 applied \d+: p2 caught up/);
        expect(out).toMatch(/every replica applied \d+ \(waiting 0\)/);
        const views = [...out.matchAll(/view at (p\d): (\{.*\})$/gm)].map((m) => m[2]);
        expect(views).toHaveLength(3 + 1); // the one while p2 was down, then one per replica
        expect(new Set(views.slice(1)).size, out).toBe(1);
        const [, acked, unresolved, load] = find(
          out,
          /(\d+) adds acknowledged \(\+(\d+) unresolved\), 'load' = (\d+) at every replica: OK/,
        ).map(Number);
        expect(load).toBeGreaterThanOrEqual(acked!);
        expect(load).toBeLessThanOrEqual(acked! + unresolved!);
        expect(views[1]).toBe(`{"load":${load}}`);
      },
      TEST_TIMEOUT_MS,
    );
  }
});

// --help and the refusal of bad options, for every script: test/scripts/cli.test.ts.
