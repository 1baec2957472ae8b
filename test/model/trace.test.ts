// The counterexample file for both models: an EPaxos trace (the drop-dependency mutation's
// shortest counterexample) written, read back and replayed to the same violation through the
// real core; a tampered trace refused with the step's number; files that cannot be replayed
// refused by name; a Paxos file written before EPaxos traces existed still replayed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_EPAXOS_MODEL,
  type EpaxosStep,
  epaxosModel,
} from '../../apps/model/epaxos-model.ts';
import { explore } from '../../apps/model/explore.ts';
import {
  type EpaxosTraceFile,
  readTrace,
  replayTrace,
  TRACE_FORMAT,
  type TraceFile,
  writeTrace,
} from '../../apps/model/trace.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const FIXTURES = fileURLToPath(new URL('../fixtures/model/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'model-trace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const options: EpaxosTraceFile['options'] = {
  ...DEFAULT_EPAXOS_MODEL,
  commands: 2,
  timers: 0,
  crashes: 0,
  mutations: ['drop-dependency'],
};

/** The drop-dependency counterexample, found by the model checker and written to `file`. */
const file = join(dir, 'drop-dependency.json');
let found: { violation: string; trace: EpaxosStep[]; words: string[] };

beforeAll(() => {
  const model = epaxosModel(options);
  const r = explore(model);
  if (r.kind !== 'violation') throw new Error(`expected a violation, got ${r.kind}`);
  found = {
    violation: r.violation,
    trace: r.trace,
    words: r.trace.map((s, i) => `${String(i + 1).padStart(3)}. ${model.describe(s)}`),
  };
  writeTrace(file, { protocol: 'epaxos', options, violation: r.violation, steps: r.trace });
}, scaledMs(60_000));

/** The written trace with `change` applied, as a new file. */
function tampered(name: string, change: (t: EpaxosTraceFile) => void): string {
  const t = JSON.parse(readFileSync(file, 'utf8')) as EpaxosTraceFile;
  change(t);
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(t));
  return path;
}

describe('an EPaxos trace file', () => {
  it('is written, read back as it was, and replays to the same violation', () => {
    const t = readTrace(file);
    expect(t.format).toBe(TRACE_FORMAT);
    if (t.protocol !== 'epaxos') throw new Error(`read back as ${t.protocol}`);
    expect(t.options).toEqual(options);
    expect(t.violation).toMatch(/^order: /);
    expect(t.steps).toEqual(found.trace);
    expect(t.steps).toHaveLength(8);
    const r = replayTrace(t);
    expect(r.violation).toBe(found.violation);
    // The replay's words are the model checker's, step for step.
    expect(r.lines).toEqual(found.words);
    expect(r.lines[0]).toBe('  1. r1 proposes c1');
    expect(r.lines[7]).toMatch(/^ {2}8\. r\d receives commit r1\.\d seq=0 deps=\[\] from r1$/);
  });

  it('needs the mutation: without it the core sends other messages, so step 4 is refused', () => {
    // Unmutated, r1 pre-accepts c2 (r1.1) with c1 (r1.0) as a dependency: not step 4's message.
    const path = tampered('no-mutation.json', (t) => {
      t.options.mutations = [];
    });
    expect(() => replayTrace(readTrace(path))).toThrow(/^step 4 is not possible here: /);
  });

  it('a step changed is refused, naming the step', () => {
    const seq = tampered('seq.json', (t) => {
      const s = t.steps[6]!;
      if (s.kind !== 'deliver' || s.msg.type !== 'commit') throw new Error('step 7: no commit');
      s.msg.seq = 5; // a commit nobody sent
    });
    expect(() => replayTrace(readTrace(seq))).toThrow(/^step 7 is not possible here: /);
    const who = tampered('who.json', (t) => {
      t.steps[1] = { kind: 'propose', node: 'r2', cmd: 'c1' }; // c1 was proposed already
    });
    expect(() => replayTrace(readTrace(who))).toThrow(/^step 2 is not possible here: /);
    const after = tampered('after.json', (t) => {
      t.steps.push({ kind: 'crash', node: 'r1' });
    });
    expect(() => replayTrace(readTrace(after))).toThrow(
      /^step 9: the run broke an invariant before it$/,
    );
  });

  it('keys in another order are the same step (matched canonically)', () => {
    const path = tampered('reordered.json', (t) => {
      t.steps = t.steps.map((s) => Object.fromEntries(Object.entries(s).reverse())) as EpaxosStep[];
    });
    expect(readFileSync(path, 'utf8')).not.toBe(
      JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))),
    );
    expect(replayTrace(readTrace(path)).violation).toBe(found.violation);
  });

  it('a file that cannot be replayed is refused by name', () => {
    const raft = tampered('raft.json', (t) => {
      (t as unknown as { protocol: string }).protocol = 'raft';
    });
    expect(() => readTrace(raft)).toThrow(
      `${raft}: protocol raft cannot be replayed (paxos or epaxos)`,
    );
    const paxosMutation = tampered('paxos-mutation.json', (t) => {
      (t.options.mutations as string[]) = ['accept-below-promise'];
    });
    expect(() => readTrace(paxosMutation)).toThrow(
      `${paxosMutation}: unknown epaxos mutation accept-below-promise`,
    );
    const replicas = tampered('replicas.json', (t) => {
      t.options.replicas = 0;
    });
    expect(() => readTrace(replicas)).toThrow(
      `${replicas}: options.replicas must be an integer from 1 to 7, got 0`,
    );
    const paxos = JSON.parse(
      readFileSync(join(FIXTURES, 'paxos-forget-accepted-on-promise.json'), 'utf8'),
    ) as { options: Record<string, unknown> };
    const participants = join(dir, 'participants.json');
    writeFileSync(
      participants,
      JSON.stringify({ ...paxos, options: { ...paxos.options, participants: 100 } }),
    );
    expect(() => readTrace(participants)).toThrow(
      `${participants}: options.participants must be an integer from 1 to 7, got 100`,
    );
    const network = join(dir, 'network.json');
    writeFileSync(
      network,
      JSON.stringify({ ...paxos, options: { ...paxos.options, network: 'bag' } }),
    );
    expect(() => readTrace(network)).toThrow(
      `${network}: options.network must be set or multiset, got "bag"`,
    );
    const format = tampered('format.json', (t) => {
      (t as unknown as { format: string }).format = 'something-else/1';
    });
    expect(() => readTrace(format)).toThrow(`${format} is not a model trace (${TRACE_FORMAT})`);
  });
});

describe('the trace files in test/fixtures/model', () => {
  it('a Paxos trace written before EPaxos traces existed still reads and replays', () => {
    const t: TraceFile = readTrace(join(FIXTURES, 'paxos-forget-accepted-on-promise.json'));
    expect(t.protocol).toBe('paxos');
    const r = replayTrace(t);
    expect(r.lines).toHaveLength(t.steps.length);
    expect(r.violation).toBe(t.violation);
    expect(r.violation).toMatch(/^agreement: /);
  });

  it('the EPaxos fixture (what sim --replay runs in the CLI test) is the model checker’s trace', () => {
    const t = readTrace(join(FIXTURES, 'epaxos-drop-dependency.json'));
    if (t.protocol !== 'epaxos') throw new Error(`read back as ${t.protocol}`);
    expect(t.steps).toEqual(found.trace);
    expect(replayTrace(t).violation).toBe(found.violation);
  });

  it('the 7-replica scenario for majority-fast-quorum breaks the mutated core only', () => {
    const path = fileURLToPath(
      new URL('../../examples/model-traces/epaxos-majority-fast-quorum.json', import.meta.url),
    );
    const t = readTrace(path);
    if (t.protocol !== 'epaxos') throw new Error(`read back as ${t.protocol}`);
    expect(t.options).toMatchObject({ replicas: 7, mutations: ['majority-fast-quorum'] });
    expect(t.steps).toHaveLength(30);
    const r = replayTrace(t);
    expect(r.violation).toBe(t.violation);
    expect(r.violation).toBe(
      'committed: r1.0 committed at r5 as ["c1",1,["r5.0"]], before as ["c1",0,[]]',
    );
    // With the real fast quorum (5 of 7) every step is still possible, and none breaks anything:
    // r1 does not commit on 3 answers, so the recovery's attributes are the only ones.
    const real = replayTrace({ ...t, options: { ...t.options, mutations: [] } });
    expect(real.lines).toHaveLength(30);
    expect(real.violation).toBeNull();
  });
});
