import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SIM, type SimMutation, simulate } from '../../apps/sim/simulator.ts';

const TSX = ['--import', 'tsx'];

describe('the deterministic simulation', () => {
  it('500 seeded fault schedules: no invariant broken, every operation acknowledged', () => {
    const kinds = new Set<string>();
    let crashes = 0;
    let partitions = 0;
    let dropped = 0;
    let powerLosses = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const r = simulate({ ...DEFAULT_SIM, seed, nodes: 3 + 2 * (seed % 3), ops: 60 });
      if (!r.ok) kinds.add(`seed ${seed}: ${r.violation!.kind}: ${r.violation!.message}`);
      expect(r.metrics.acknowledged).toBe(r.ok ? 60 : r.metrics.acknowledged);
      crashes += r.metrics.crashes;
      partitions += r.metrics.partitions;
      dropped += r.metrics.dropped;
      powerLosses += r.metrics.powerLosses;
    }
    expect([...kinds]).toEqual([]);
    // The faults did happen.
    expect(crashes).toBeGreaterThan(500);
    expect(partitions).toBeGreaterThan(500);
    expect(dropped).toBeGreaterThan(10_000);
    expect(powerLosses).toBeGreaterThan(250);
  });

  it('same seed, same run; another seed, another run', () => {
    const a = simulate({ ...DEFAULT_SIM, seed: 99 });
    const b = simulate({ ...DEFAULT_SIM, seed: 99 });
    const c = simulate({ ...DEFAULT_SIM, seed: 100 });
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    expect(c.digest).not.toBe(a.digest);
  });

  it('catches broken variants: a disk that forgets, a replica applying accepted values', () => {
    const amnesia = Array.from({ length: 60 }, (_, i) =>
      simulate({ ...DEFAULT_SIM, seed: i + 1, nodes: 3, mutate: 'amnesia' }),
    );
    const caught = amnesia.filter((r) => !r.ok);
    expect(caught.length).toBeGreaterThan(5);
    for (const r of caught) expect(['agreement', 'invariant', 'logs']).toContain(r.violation!.kind);
    // The report names the instance and shows its story.
    const first = caught.find((r) => r.violation!.kind === 'agreement')!;
    expect(first.violation!.trace.some((l) => l.includes(`inst=${first.violation!.inst} `))).toBe(
      true,
    );
    for (let seed = 1; seed <= 10; seed++) {
      // Applying an accepted (not chosen) value: another value is chosen there, or the logs or
      // the states part, or an acknowledged operation is missing from the log.
      expect(['agreement', 'logs', 'state', 'lost', 'results']).toContain(
        simulate({ ...DEFAULT_SIM, seed, mutate: 'apply-accepted' }).violation?.kind,
      );
    }
  });

  it('every replica reaches one log position at the end: a replica left behind is a liveness violation', () => {
    // Found by a flaky kill-restart run: a replica whose acceptor missed the last accept (nothing
    // decided after it, so no hole) stayed behind for ever; now its replica is told (missed).
    expect(simulate({ ...DEFAULT_SIM, seed: 7 }).ok).toBe(true);
    const r = simulate({ ...DEFAULT_SIM, seed: 7, mutate: 'ignore-missed' });
    expect(r.violation?.kind).toBe('liveness');
    expect(r.violation?.message).toMatch(/^the replicas did not reach one log position/);
  });

  it("the Paxos roles' and the replica core's mutations are caught by a sweep of the real cores", () => {
    const caughtBy = (mutate: SimMutation, seeds: number) => {
      for (let seed = 1; seed <= seeds; seed++) {
        const r = simulate({ ...DEFAULT_SIM, seed, nodes: 3, mutate });
        if (!r.ok) return r.violation!;
      }
      return undefined;
    };
    // Adopting a snapshot forgets its remembered results: a retry applies twice, and the
    // replica's state parts from the others' at the same log position.
    expect(caughtBy('forget-snapshot-results', 50)?.kind).toMatch(/state|results/);
    expect(caughtBy('ignore-accepted', 50)?.kind).toMatch(/agreement|invariant|logs/);
    expect(caughtBy('accept-below-promise', 50)?.kind).toMatch(/agreement|invariant|logs/);
  });

  it('reconfigurations under faults: replicas added and removed through the log, no violation', () => {
    let added = 0;
    let removed = 0;
    const broken: string[] = [];
    for (let seed = 1; seed <= 60; seed++) {
      const r = simulate({
        ...DEFAULT_SIM,
        seed,
        nodes: 3 + 2 * (seed % 2),
        ops: 100,
        reconfigs: 4,
      });
      if (!r.ok) broken.push(`seed ${seed}: ${r.violation!.kind}: ${r.violation!.message}`);
      expect(r.metrics.acknowledged).toBe(r.ok ? 100 : r.metrics.acknowledged);
      added += r.metrics.added;
      removed += r.metrics.removed;
    }
    expect(broken).toEqual([]);
    // The reconfigurations did happen: 4 per run.
    expect(added + removed).toBe(240);
    expect(added).toBeGreaterThan(60);
    expect(removed).toBeGreaterThan(60);
  });

  it('a replica that missed reconfigurations catches up from one added since (seed 7 stalled)', () => {
    // n2 stayed in the first configuration: the only other members it knew were removed, so
    // it asked no one, and the others forwarded their requests to it (the first member up).
    const r = simulate({ ...DEFAULT_SIM, seed: 7, nodes: 3, ops: 100, reconfigs: 6 });
    expect(r.violation?.message).toBeUndefined();
    expect(r.metrics.added + r.metrics.removed).toBe(6);
  });

  it('the checks under reconfiguration: seeds that reported what did not happen', () => {
    // 499: a value chosen (its proposer saw a quorum accept it) was applied, but the learner's
    // write of it never flushed before its participant stopped: it is a decision all the same.
    // 145: clients kept calling removed replicas (7 in 10 of those ever started) and ran out of
    // time; they now call the replicas not removed.
    for (const o of [
      { seed: 499, reconfigs: 6 },
      { seed: 145, nodes: 7, ops: 300, reconfigs: 10 },
    ]) {
      const r = simulate({ ...DEFAULT_SIM, ...o });
      expect(r.violation?.message).toBeUndefined();
    }
  });

  it("applying an old configuration's decisions after its stop sign is caught", () => {
    const kinds = new Set<string>();
    for (let seed = 1; seed <= 40 && kinds.size === 0; seed++) {
      const r = simulate({
        ...DEFAULT_SIM,
        seed,
        nodes: 3,
        ops: 100,
        reconfigs: 6,
        mutate: 'apply-void',
      });
      if (!r.ok) kinds.add(r.violation!.kind);
    }
    expect([...kinds][0]).toMatch(/logs|state|results|reconfig|agreement/);
  });

  it('a leader behind a majority that compacted past its next instance catches up (seed 412 stalled)', () => {
    // Three of five replicas had applied 101 and compacted their Paxos stores below it; the
    // leader, at 100, proposed instance 100 for ever: those acceptors ignored it in silence.
    const r = simulate({ ...DEFAULT_SIM, seed: 412, ops: 100 });
    expect(r.violation?.message).toBeUndefined();
    expect(r.metrics.acknowledged).toBe(100);
  });

  it('liveness is checked: an impossible bound is reported', () => {
    const r = simulate({ ...DEFAULT_SIM, seed: 3, livenessMs: 1 });
    expect(r.ok).toBe(false);
    expect(r.violation!.kind).toBe('liveness');
  });

  it('npm run sim: one seed, a sweep, a violation with its replay command, --help', () => {
    const one = execFileSync(process.execPath, [...TSX, 'scripts/sim.ts', '--seed', '5'], {
      encoding: 'utf8',
    });
    expect(one).toMatch(/messages and [\d.]+ ballots per decision/);
    expect(one).toContain('liveness: OK');
    expect(one).toMatch(/digest [0-9a-f]{8}/);
    const sweep = execFileSync(
      process.execPath,
      [...TSX, 'scripts/sim.ts', '--seeds', '20', '--ops', '40'],
      { encoding: 'utf8' },
    );
    expect(sweep).toContain('20 seeds, 0 violations');
    const bad = spawnSync(
      process.execPath,
      [...TSX, 'scripts/sim.ts', '--seeds', '60', '--nodes', '3', '--bug', 'amnesia'],
      { encoding: 'utf8' },
    );
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/VIOLATION \((agreement|invariant|logs)\) with seed \d+/);
    // --bug is the old name of --mutate; the replay command uses the new one.
    expect(bad.stdout).toMatch(/replay: npm run sim -- --seed \d+ .*--mutate amnesia/);
    const help = execFileSync(process.execPath, [...TSX, 'scripts/sim.ts', '--help'], {
      encoding: 'utf8',
    });
    expect(help).toContain('Usage: npm run sim');
    const wrong = spawnSync(process.execPath, [...TSX, 'scripts/sim.ts', '--nodes', 'x'], {
      encoding: 'utf8',
    });
    expect(wrong.status).toBe(2);
    expect(wrong.stderr).toContain('--nodes must be an integer');
  });

  it("npm run sim: seed 003's knobs, a schedule file, and a replay that reproduces the run", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-'));
    const plan = join(dir, 'plan.txt');
    writeFileSync(
      plan,
      '# a crash, a power loss, a split\nat 500 crash n2 for 300\nat 800 power-loss n1 for 200\nat 1000 partition n1,n2 | n3 for 400\n',
    );
    const sim = (...args: string[]) =>
      spawnSync(process.execPath, [...TSX, 'scripts/sim.ts', ...args], { encoding: 'utf8' });
    const one = sim(
      '--nodes',
      '3',
      '--ops',
      '60',
      '--schedule',
      plan,
      '--at',
      '1500 power-loss n1,n3 for 100',
      '--delay',
      'uniform:1..4',
      '--random-proposer',
      '0.1',
      '--flush-ms',
      '0.5..3',
    );
    expect(one.status, one.stderr).toBe(0);
    expect(one.stdout).toContain('delay=uniform:1..4');
    expect(one.stdout).toContain('flush=0.5..3 ms');
    expect(one.stdout).toContain('4 scheduled, random proposer 0.1');
    expect(one.stdout).toMatch(/1 partitions, 1 crashes and 3 power losses/);
    expect(one.stdout).toMatch(/disk: \d+ writes in \d+ flushes/);
    expect(one.stdout).toMatch(/\(\d+ random ballots\)/);
    const digest = /digest ([0-9a-f]{8})/.exec(one.stdout)![1];
    // The same run, its schedule given as --at events (as a replay command gives it).
    const again = sim(
      '--nodes',
      '3',
      '--ops',
      '60',
      '--delay',
      'uniform:1..4',
      '--random-proposer',
      '0.1',
      '--flush-ms',
      '0.5..3',
      '--at',
      '500 crash n2 for 300',
      '--at',
      '800 power-loss n1 for 200',
      '--at',
      '1000 partition n1,n2 | n3 for 400',
      '--at',
      '1500 power-loss n1,n3 for 100',
    );
    expect(again.stdout).toContain(`digest ${digest}`);
    writeFileSync(plan, 'at 500 crash n2 for 300\nat 600 crash n7\n');
    const bad = sim('--nodes', '3', '--schedule', plan);
    expect(bad.status).toBe(2);
    expect(bad.stderr.split('\n')[0]).toBe(
      `--schedule ${plan} line 2: unknown node 'n7' (the nodes are n1..n3) in 'at 600 crash n7'`,
    );
    rmSync(dir, { recursive: true, force: true });
  });
});
