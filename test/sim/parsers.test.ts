// The simulator's option parsers: delay distributions (apps/sim/network.ts) and fault schedules
// (apps/sim/schedule.ts), good input and bad, with the errors a user reads.
import { describe, expect, it } from 'vitest';
import { formatDelay, parseDelay, sampleDelay } from '../../apps/sim/network.ts';
import { formatFaultEvent, parseFaultEvent, parseSchedule } from '../../apps/sim/schedule.ts';
import { seededRandom } from '../../transport/faults.ts';

const ctx = { names: ['n1', 'n2', 'n3'], faultMs: 2000 };

describe('delay distributions', () => {
  it('parses each form and prints it back', () => {
    expect(parseDelay('fixed:2')).toEqual({ kind: 'fixed', ms: 2 });
    expect(parseDelay('uniform:1..5')).toEqual({ kind: 'uniform', minMs: 1, maxMs: 5 });
    expect(parseDelay('exponential:2')).toEqual({ kind: 'exponential', meanMs: 2 });
    expect(parseDelay(' long-tail:0.5 ')).toEqual({ kind: 'long-tail', meanMs: 0.5 });
    for (const text of ['fixed:2', 'uniform:1..5', 'exponential:2', 'long-tail:0.5'])
      expect(formatDelay(parseDelay(text))).toBe(text);
  });

  it('rejects bad specifications with a message saying what was expected', () => {
    const bad: Array<[string, RegExp]> = [
      ['gaussian:2', /unknown distribution 'gaussian'/],
      ['fixed', /the delay must be a number >= 0, got ''/],
      ['fixed:x', /got 'x'/],
      ['exponential:-1', /the mean must be a number >= 0/],
      ['long-tail:0', /the mean must be > 0/],
      ['uniform:5', /uniform takes MIN..MAX/],
      ['uniform:5..1', /MAX must be >= MIN/],
    ];
    for (const [text, why] of bad) {
      expect(() => parseDelay(text), text).toThrow(why);
      expect(() => parseDelay(text), text).toThrow(/expected fixed:MS, uniform:MIN..MAX/);
    }
  });

  it('samples have the asked mean; the long tail is heavy', () => {
    const mean = (text: string, n = 200_000) => {
      const random = seededRandom(7);
      const d = parseDelay(text);
      let sum = 0;
      let min = Number.POSITIVE_INFINITY;
      let max = 0;
      for (let i = 0; i < n; i++) {
        const x = sampleDelay(d, random);
        sum += x;
        min = Math.min(min, x);
        max = Math.max(max, x);
      }
      expect(min).toBeGreaterThanOrEqual(0);
      return { mean: sum / n, max };
    };
    expect(mean('fixed:2')).toEqual({ mean: 2, max: 2 });
    expect(mean('uniform:1..5').mean).toBeCloseTo(3, 1);
    expect(mean('uniform:1..5').max).toBeLessThan(5);
    expect(mean('exponential:2').mean).toBeCloseTo(2, 1);
    const tail = mean('long-tail:2');
    expect(tail.mean).toBeGreaterThan(1.7); // infinite variance: the sample mean converges slowly
    expect(tail.mean).toBeLessThan(2.3);
    expect(tail.max).toBeGreaterThan(100 * 2); // some messages take 100x the mean
    expect(mean('exponential:2').max).toBeLessThan(40);
  });
});

describe('fault schedules', () => {
  it('parses crashes, power losses and partitions, with or without "at" and "for"', () => {
    expect(parseFaultEvent('500 crash n2 for 300', ctx)).toEqual({
      atMs: 500,
      kind: 'crash',
      nodes: ['n2'],
      forMs: 300,
    });
    expect(parseFaultEvent('at 800 power-loss n1,n3', ctx)).toEqual({
      atMs: 800,
      kind: 'power-loss',
      nodes: ['n1', 'n3'],
    });
    expect(parseFaultEvent('at 1000 partition n1, n2 | n3 for 400', ctx)).toEqual({
      atMs: 1000,
      kind: 'partition',
      groups: [['n1', 'n2'], ['n3']],
      forMs: 400,
    });
    for (const line of [
      'at 500 crash n2 for 300',
      'at 800 power-loss n1,n3',
      'at 1000.5 partition n1,n2 | n3 for 400',
    ])
      expect(formatFaultEvent(parseFaultEvent(line, ctx))).toBe(line);
  });

  it('reads a file: comments and blank lines skipped, errors name the line', () => {
    const text = `# a rack goes dark, then a split
at 500 crash n2 for 300

at 800 power-loss n1 for 200   # n1 loses power
at 1000 partition n1,n2 | n3 for 400
`;
    expect(parseSchedule(text, ctx).map(formatFaultEvent)).toEqual([
      'at 500 crash n2 for 300',
      'at 800 power-loss n1 for 200',
      'at 1000 partition n1,n2 | n3 for 400',
    ]);
    expect(() => parseSchedule(`${text}at 1200 crash n4\n`, ctx, 'plan.txt')).toThrow(
      /^plan.txt line 6: unknown node 'n4' \(the nodes are n1..n3\) in 'at 1200 crash n4'$/,
    );
  });

  it('rejects bad lines with a clear reason', () => {
    const bad: Array<[string, RegExp]> = [
      ['500 crash', /too few words.*expected/],
      ['x crash n1', /the time must be a number of ms >= 0, got 'x'/],
      ['-5 crash n1', /the time must be a number/],
      ['500 explode n1', /unknown fault 'explode'/],
      ['500 crash n1 for', /'for' must be followed by one duration/],
      ['500 crash n1 for 0', /the duration must be > 0/],
      ['500 crash n1 for 10 20', /'for' must be followed by one duration, at the end/],
      ['500 crash n1 n2', /crash takes one comma-separated list of nodes/],
      ['500 crash n1,,n2', /an empty node name/],
      ['500 crash n1,n1', /a node named twice/],
      ['500 partition n1 | n1', /a node named twice/],
      ['500 partition n1 | | n2', /an empty group around '\|'/],
      ['2000 crash n1', /the time 2000 is not before the end of the fault phase \(2000 ms\)/],
    ];
    for (const [line, why] of bad) expect(() => parseFaultEvent(line, ctx), line).toThrow(why);
  });
});
