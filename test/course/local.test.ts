import { describe, expect, it } from 'vitest';
import { CASES } from '../../apps/course/cases.ts';
import { judge, runCase } from '../../apps/course/coordinator.ts';

describe('course harness, local mode (every participant in this process)', () => {
  for (const def of CASES.filter((c) => c.local !== null)) {
    it(`case ${def.id}: ${def.title} [${def.local}], ten runs`, async () => {
      for (let run = 1; run <= 10; run++) {
        const r = await runCase(def, 'local', { seed: def.id * 100 + run, run });
        expect(r.verdict, `run ${run}: ${r.reason}`).toBe('PASS');
      }
    }, 120_000);
  }
});

describe('the harness can fail', () => {
  const scripts = [201, 202, 203].map((value, i) => ({
    name: `x${i}`,
    participants: ['x0', 'x1', 'x2'],
    value,
    ballotsAtMs: [],
    retrier: false,
    waitRegistered: 2,
  }));
  const finished = (values: unknown[], status: 'decided' | 'none' | 'killed' = 'decided') =>
    values.map((value, i) => ({
      type: 'finished' as const,
      name: `x${i}`,
      pid: null as never,
      status,
      value,
      attemptsLeft: 10,
      queueLen: 0,
    }));

  it('judges disagreement, invalid values and missing decisions as FAIL', () => {
    expect(judge(scripts, finished([201, 202, 201])).verdict).toBe('FAIL');
    expect(judge(scripts, finished([999, 999, 999])).reason).toMatch(/validity/);
    expect(judge(scripts, finished([201, 201, 201], 'none')).reason).toMatch(/termination/);
    expect(judge(scripts, finished([202, 202, 202]))).toMatchObject({
      verdict: 'PASS',
      warnings: [],
    });
  });

  it('warns about too many attempts and messages left', () => {
    const f = finished([203, 203, 203]);
    f[0]!.attemptsLeft = 3;
    f[1]!.queueLen = 11;
    expect(judge(scripts, f).warnings).toEqual(['too_many_attempts', 'too_many_messages_left']);
  });
});
