// Runs the demo and kill-and-restart scripts as a user would and checks what they print.
import { afterEach, describe, expect, it } from 'vitest';
import { Session, TSX } from '../session.ts';

const sessions: Session[] = [];
afterEach(() => {
  for (const s of sessions.splice(0)) s.kill();
});

/** Runs a script to its end; resolves with its exit code and output. */
async function run(
  script: string,
  ...args: string[]
): Promise<{ code: number | null; out: string }> {
  const s = new Session(process.execPath, [...TSX, `scripts/${script}.ts`, ...args], {
    LOG_LEVEL: 'error',
  });
  sessions.push(s);
  const code = await s.exited();
  return { code, out: s.transcript };
}

describe('demo and kill-and-restart scripts', () => {
  it('demo:inventory: one winner per round, all-or-nothing order, a retry applied once', async () => {
    const { code, out } = await run('demo-inventory', '--rounds', '3');
    expect(code, out).toBe(0);
    expect(out).toMatch(
      /round 1: buyer-\d@p\d got it; .* refused \(insufficient_stock\); left: 0, 0, 0/,
    );
    expect(out).toContain('refused (insufficient_stock), stock unchanged {"apple":2,"pear":1}');
    expect(out).toContain('gifts in stock: 1');
    expect(out).toContain('3 rounds, 3 winners, 6 refused, stock 0 at p1, p2, p3: OK');
  });

  it('demo:seats, in-process and with --cluster: one winner, the others serve after a kill', async () => {
    for (const args of [[], ['--cluster']]) {
      const { code, out } = await run('demo-seats', ...args);
      expect(code, out).toBe(0);
      expect(out.match(/taken \(held by \w+\)/g)).toHaveLength(3); // two losers, then eve
      expect(out).toContain(args.length ? 'SIGKILL of its node process' : 'the replica actor');
      expect(out).toMatch(/row {2}5 {6}\. \. \. \. \w d \. \. \. \./);
      expect(out).toContain('p2 and p3 serve and agree with p1 down: OK');
    }
  });

  it('kill-restart: a node SIGKILLed, and the leader actor killed; nothing acknowledged lost', async () => {
    for (const args of [
      ['--mode', 'node', '--down-ms', '800'],
      ['--mode', 'actor', '--target', 'p1', '--down-ms', '500'],
    ]) {
      const { code, out } = await run('kill-restart', ...args);
      expect(code, out).toBe(0);
      expect(out).toMatch(/still serving with p\d down: \d+ adds acknowledged meanwhile/);
      expect(out).toMatch(/restarted p\d .* caught up/);
      expect(out).toMatch(/(\d+) adds acknowledged, 'load' = \1 at every replica: OK/);
    }
  });

  it('every script explains itself with --help; bad options are refused', async () => {
    for (const script of ['demo-inventory', 'demo-seats', 'kill-restart', 'bench-inventory']) {
      const { code, out } = await run(script, '--help');
      expect(code).toBe(0);
      expect(out).toContain('Usage: npm run');
    }
    const bad = await run('kill-restart', '--mode', 'explode');
    expect(bad.code).toBe(2);
    expect(bad.out).toContain('--mode must be actor or node');
  });
});
