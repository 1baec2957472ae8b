// The chaos run, short: real node processes under kills, partitions and pauses, every
// operation recorded and the history checked for linearizability.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { namespaces, netnsUnavailable } from '../../scripts/support/netns.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const noHosts = netnsUnavailable();
if (noHosts) console.log(`chaos.test.ts: the --hosts run is skipped: ${noHosts}`);

const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const TSX = ['--import', 'tsx'];

/** Runs `npm run chaos` for 10 s with seed 11 (and `extra`); its output's figures. */
function chaos(out: string, extra: string[] = []) {
  const run = spawnSync(
    process.execPath,
    [...TSX, 'scripts/chaos.ts', ...extra, '--duration', '10', '--seed', '11', '--out', out],
    { encoding: 'utf8', timeout: scaledMs(110_000), env: { ...process.env, LOG_LEVEL: 'error' } },
  );
  expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
  const ops = /operations: (\d+) ok \(\d+ of them refused[^)]*\), (\d+) indeterminate/.exec(
    run.stdout,
  );
  expect(ops, run.stdout).not.toBeNull();
  const [ok, indeterminate] = ops!.slice(1).map(Number) as [number, number];
  expect(ok, run.stdout).toBeGreaterThan(0);
  const faults =
    /faults injected: (\d+) kills, (\d+) partitions, (\d+) pauses(?:, (\d+) replicas replaced)?/.exec(
      run.stdout,
    );
  expect(faults, run.stdout).not.toBeNull();
  const injected = faults!.slice(1).reduce((sum, n) => sum + Number(n ?? 0), 0);
  expect(injected, run.stdout).toBeGreaterThan(0);
  expect(run.stdout).toContain('linearizability: OK');
  expect(run.stdout).toContain('violations: 0');
  // Every operation recorded (not a count that depends on the machine's speed): each ok or
  // indeterminate one, plus the final read of every replica; all of them checked.
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  expect(lines.length, run.stdout).toBe(ok + indeterminate + 1);
  expect(run.stdout).toContain(`(${lines.length} operations checked`);
  return { stdout: run.stdout, lines };
}

describe('npm run chaos (short)', () => {
  // The nemesis draws each fault's kind from the same seeded stream as the clients, so which
  // kinds a 10 s run gets depends on timing; that it injects faults does not (the first comes
  // at 1 s).
  it(
    'random faults injected, every operation recorded, linearizable, 0 violations',
    () => {
      const out = join(dir, 'history.jsonl');
      const { lines } = chaos(out);
      // The saved history checks again on its own, and a tampered one is rejected.
      const again = spawnSync(process.execPath, [...TSX, 'scripts/check-history.ts', out], {
        encoding: 'utf8',
      });
      expect(again.status, `${again.stdout}\n${again.stderr}`).toBe(0);
      expect(again.stdout).toContain('OK');
      const final = JSON.parse(lines.at(-1)!) as { output: { stock: Record<string, number> } };
      final.output.stock.apple = (final.output.stock.apple ?? 0) + 1;
      const bad = join(dir, 'tampered.jsonl');
      writeFileSync(bad, [...lines.slice(0, -1), JSON.stringify(final)].join('\n'));
      const rejected = spawnSync(process.execPath, [...TSX, 'scripts/check-history.ts', bad], {
        encoding: 'utf8',
      });
      expect(rejected.status).toBe(1);
      expect(rejected.stdout).toContain('NOT linearizable');
    },
    scaledMs(120_000),
  );

  it(
    'the same on EPaxos (--protocol epaxos): faults injected, linearizable, 0 violations',
    () => {
      const { stdout } = chaos(join(dir, 'history-epaxos.jsonl'), ['--protocol', 'epaxos']);
      expect(stdout).toContain('3 nodes (epaxos)');
    },
    scaledMs(120_000),
  );

  it(
    '--replace: replicas replaced through the log under load, linearizable, 0 violations',
    () => {
      const { stdout } = chaos(join(dir, 'history-replace.jsonl'), [
        '--replace',
        '--no-kill',
        '--no-partition',
        '--no-pause',
      ]);
      const replaced = /(\d+) replicas replaced \(members at the end: ([p\d, ]+)\)/.exec(stdout);
      expect(replaced, stdout).not.toBeNull();
      expect(Number(replaced![1]), stdout).toBeGreaterThan(0);
      // Every replacement added a fresh node's replica (p4, p5, ...) and removed a member.
      const members = replaced![2]!.split(', ');
      expect(members, stdout).toHaveLength(3);
      expect(
        members.some((m) => Number(m.slice(1)) > 3),
        stdout,
      ).toBe(true);
      // Every replaced node exited with code 0 on SIGTERM (one stuck in its exit is a violation).
      const stops = /replaced nodes stopped by SIGTERM: (\d+) of (\d+) exited cleanly\n/.exec(
        stdout,
      );
      expect(stops, stdout).not.toBeNull();
      expect(stops![1], stdout).toBe(replaced![1]);
      expect(stops![2], stdout).toBe(replaced![1]);
    },
    scaledMs(120_000),
  );

  // Every node on a host of its own (a network namespace), TLS between them, 20 +- 10 ms on every
  // link; partitions alternate between the victim host's link down and fault injection.
  it.skipIf(noHosts !== null)(
    '--hosts --delay-ms 20 --replace: faults injected, linearizable, 0 violations, no namespace left',
    () => {
      const { stdout } = chaos(join(dir, 'history-hosts.jsonl'), [
        '--hosts',
        '--delay-ms',
        '20',
        '--replace',
      ]);
      // Replacements are among the faults drawn (a new node on its victim's host, with TLS).
      expect(stdout).toContain('faults: kill, partition, pause, replace;');
      const tag =
        /network namespaces (ac\d+x[0-9a-f]{6})-h1\.\.h4, TLS\): p1, p2, p3 on 10\.213\.0\.1:4000/.exec(
          stdout,
        )?.[1];
      expect(tag, stdout).toBeDefined();
      expect(stdout).toContain('delay 20±10 ms on every link');
      expect(stdout).toContain('3 nodes (paxos), 6 clients, seed 11, on 4 hosts, delay 20±10 ms');
      // The delay is in force: a ping crosses two delayed links, each at least 10 ms.
      const ping = /ping to a node: ([\d.]+) ms before the delay, ([\d.]+) ms with it/.exec(stdout);
      expect(ping, stdout).not.toBeNull();
      expect(Number(ping![2]), stdout).toBeGreaterThanOrEqual(20);
      expect(stdout).toMatch(/\(partitions: \d+ host link down, \d+ fault injection\)/);
      const left = namespaces().filter((ns) => ns.startsWith(tag!));
      expect(left).toEqual([]);
    },
    scaledMs(120_000),
  );
});
