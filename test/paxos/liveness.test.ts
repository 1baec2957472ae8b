// Issue 12 (liveness): a proposer never pre-empts its own live ballot, and a ballot without a
// quorum retransmits until it is decided or refused. The pure core in a small discrete-event
// network with 20 ms per link, as the actors run it (start_ballot carries the clock).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BALLOT_TIMEOUT_MS,
  createParticipant,
  type Event,
  type ParticipantState,
  step,
} from '../../apps/paxos/core.ts';
import { seededRandom } from '../../transport/faults.ts';

interface Pending {
  at: number;
  to: string;
  event: Event;
}

/**
 * Runs participants p1..pN; `callers` call start_ballot every 10-30 ms (seeded); every message
 * takes `linkMs`; `lossUntilMs`: every message sent before then is lost. Returns when every
 * participant decided, or at `horizonMs`.
 */
function run(opts: {
  n: number;
  callers: string[];
  linkMs: number;
  horizonMs: number;
  seed: number;
  keepTime?: boolean;
  lossUntilMs?: number;
  /** Callers call start_ballot once only (then only retransmissions carry the ballot). */
  once?: boolean;
}) {
  const random = seededRandom(opts.seed);
  const names = Array.from({ length: opts.n }, (_, i) => `p${i + 1}`);
  const ps = new Map<string, ParticipantState>(names.map((n) => [n, createParticipant(n, names)]));
  const queue: Pending[] = [];
  const decidedAt = new Map<string, number>();
  const ballots = new Set<string>(); // distinct ballots started (retransmissions are not new)
  const push = (p: Pending) => {
    queue.push(p);
    queue.sort((a, b) => a.at - b.at);
  };
  const apply = (name: string, event: Event, now: number) => {
    for (const e of step(ps.get(name)!, event)) {
      const lost = now < (opts.lossUntilMs ?? 0);
      if (e.type === 'broadcast') {
        if (e.msg.type === 'prepare') ballots.add(`${e.msg.ballot.round}.${e.msg.ballot.leader}`);
        if (!lost)
          for (const to of names)
            push({ at: now + opts.linkMs, to, event: { type: 'receive', from: name, msg: e.msg } });
      } else if (e.type === 'send') {
        if (!lost)
          push({
            at: now + opts.linkMs,
            to: e.to,
            event: { type: 'receive', from: name, msg: e.msg },
          });
      } else if (e.type === 'timer') {
        push({
          at: now + e.afterMs,
          to: name,
          event: { type: 'retry', inst: e.inst, ballot: e.ballot },
        });
      } else if (e.type === 'learn' && !decidedAt.has(name)) {
        decidedAt.set(name, now);
      }
    }
  };
  for (const c of opts.callers) {
    apply(c, { type: 'propose', inst: 0, value: `from ${c}` }, 0);
    push({ at: 0, to: c, event: { type: 'start_ballot', inst: 0 } });
  }
  while (queue.length > 0 && decidedAt.size < opts.n) {
    const next = queue.shift()!;
    if (next.at > opts.horizonMs) break;
    if (next.event.type === 'start_ballot') {
      apply(
        next.to,
        { ...next.event, now: opts.keepTime === false ? undefined : next.at },
        next.at,
      );
      if (!opts.once)
        push({ at: next.at + 10 + Math.floor(random() * 21), to: next.to, event: next.event });
    } else apply(next.to, next.event, next.at);
  }
  return {
    decidedAt,
    ballots: ballots.size,
    values: [...ps.values()].map((p) => p.learner.decided.get(0)),
  };
}

describe('Paxos liveness (the core, with 20 ms links)', () => {
  it('one participant calling start_ballot every 10-30 ms decides (it keeps its live ballot)', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = run({ n: 3, callers: ['p1'], linkMs: 20, horizonMs: 10_000, seed });
      expect(r.decidedAt.size, `seed ${seed}`).toBe(3);
      expect(Math.max(...r.decidedAt.values())).toBeLessThan(BALLOT_TIMEOUT_MS);
      expect(new Set(r.values).size).toBe(1);
    }
    // the same schedule with a proposer that starts a new ballot at every call never decides
    const old = run({
      n: 3,
      callers: ['p1'],
      linkMs: 20,
      horizonMs: 10_000,
      seed: 1,
      keepTime: false,
    });
    expect(old.decidedAt.size).toBe(0);
    expect(old.ballots).toBeGreaterThan(300);
  });

  it('two participants calling start_ballot every 10-30 ms decide, and agree', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = run({ n: 3, callers: ['p1', 'p2'], linkMs: 20, horizonMs: 10_000, seed });
      expect(r.decidedAt.size, `seed ${seed}`).toBe(3);
      expect(new Set(r.values).size).toBe(1);
    }
  });

  it('a ballot whose messages are all lost for a while retransmits and decides, with one call', () => {
    const r = run({
      n: 3,
      callers: ['p1'],
      linkMs: 20,
      horizonMs: 10_000,
      seed: 1,
      lossUntilMs: 300,
      once: true,
    });
    expect(r.decidedAt.size).toBe(3);
    expect(Math.min(...r.decidedAt.values())).toBeGreaterThan(300);
    expect(r.ballots).toBe(1); // the same ballot all along
    // the same with a proposer that never retransmits (the effects without timers) stalls
    const names = ['p1', 'p2', 'p3'];
    const ps = names.map((n) => createParticipant(n, names));
    step(ps[0]!, { type: 'propose', inst: 0, value: 'v' });
    const fx = step(ps[0]!, { type: 'start_ballot', inst: 0, now: 0 });
    const timer = fx.find((e) => e.type === 'timer');
    expect(timer).toMatchObject({ type: 'timer', inst: 0, afterMs: 20 });
    const ballot = (timer as Extract<typeof timer, { type: 'timer' }>)!.ballot;
    // the timer sends the prepare again under the same ballot, and waits twice as long next
    expect(step(ps[0]!, { type: 'retry', inst: 0, ballot })).toEqual([
      { type: 'broadcast', msg: { type: 'prepare', inst: 0, ballot } },
      { type: 'timer', inst: 0, ballot, afterMs: 40 },
    ]);
  });
});

describe("the README's coursework snippet", () => {
  it('runs as printed: propose and startBallot right after start decide, once per participant', () => {
    const readme = readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('### The coursework interface'));
    const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(code).toContain('Paxos.startBallot(pids[0]);');
    // The snippet as printed, then: every participant's decision, and exit.
    const script = `${code}\nfor (let i = 1; i < 3; i++) console.log(JSON.stringify(await receive({ type: 'decide' }, 10_000)));\nprocess.exit(0);\n`;
    const file = join(process.cwd(), `.readme-snippet-${process.pid}.mts`);
    writeFileSync(
      file,
      script.replace(
        /^(await receive\(\{ type: 'decide' \}\));/m,
        'console.log(JSON.stringify($1));',
      ),
    );
    try {
      const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, LOG_LEVEL: 'warn' },
      });
      expect(out.trim().split('\n')).toEqual(
        Array(3).fill('{"type":"decide","value":201,"inst":0}'),
      );
    } finally {
      rmSync(file, { force: true });
    }
  }, 90_000);
});
