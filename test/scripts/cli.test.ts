// Every npm script that runs a script under scripts/ has one command-line style (the wrapper in
// scripts/support/cli.ts): --help prints the usage and exits 0; an unknown or malformed option
// prints one line naming it, then the usage, on stderr, and exits 2, with no stack trace.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUN_TIMEOUT_MS = 60_000;
const CONCURRENCY = 2;

interface NpmScript {
  /** The npm script's name, e.g. 'bench:paxos'. */
  name: string;
  /** The file it runs, e.g. 'scripts/bench-paxos.ts'. */
  file: string;
  /** Arguments the npm script passes before the user's. */
  preset: string[];
  /** Whether the file parses its options with scripts/support/cli.ts. */
  usesCli: boolean;
}

const pkg = JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as {
  scripts: Record<string, string>;
};
const npmScripts: NpmScript[] = Object.entries(pkg.scripts).flatMap(([name, command]) => {
  const m = /^tsx (scripts\/[\w-]+\.ts)((?: \S+)*)$/.exec(command);
  if (!m) return [];
  const file = m[1]!;
  const source = readFileSync(`${ROOT}/${file}`, 'utf8');
  return [
    { name, file, preset: m[2]!.split(' ').filter(Boolean), usesCli: source.includes('/cli.ts') },
  ];
});

/** One malformed value per script with a numeric option, and the one line it must print. */
const MALFORMED: Record<string, [string[], string] | null> = {
  'bench:actors': [['--runs', 'x'], "--runs must be an integer >= 1, got 'x'"],
  'bench:inventory': [
    ['--concurrency', 'lots'],
    "--concurrency must be an integer >= 1, got 'lots'",
  ],
  'bench:paxos': [['--inflight', '1.5'], "--inflight must be an integer >= 1, got '1.5'"],
  'bench:epaxos': [['--duration', '0'], "--duration must be a number > 0, got '0'"],
  'bench:transport': [['--pings', '0'], "--pings must be an integer >= 1, got '0'"],
  certs: [
    ['--out', '/nonexistent-dir', '--nodes', 'p1', '--days', '0'],
    "--days must be an integer >= 1, got '0'",
  ],
  chaos: [['--duration', '0'], "--duration must be an integer >= 1, got '0'"],
  course: [['--runs', 'x'], "--runs must be an integer >= 1, got 'x'"],
  'course:dist': null, // the same file as course
  'check:history': [
    ['some.jsonl', '--timeout-ms', 'soon'],
    "--timeout-ms must be a number > 0, got 'soon'",
  ],
  'check:model': [['--ballots', 'x'], "--ballots must be an integer from 0 to 20, got 'x'"],
  dashboard: [['--nodes', '10'], "--nodes must be an integer from 1 to 9, got '10'"],
  'demo:inventory': [['--rounds', '0'], "--rounds must be an integer >= 1, got '0'"],
  'demo:seats': null,
  'example:actors': null,
  fuzz: [['--duration', '0'], "--duration must be a number > 0, got '0'"],
  'kill-restart': [['--down-ms', 'long'], "--down-ms must be an integer >= 1, got 'long'"],
  node: [['--name', 'n1', '--port', 'x'], "--port must be an integer from 0 to 65535, got 'x'"],
  sim: [['--loss', '1'], "--loss must be a number from 0 to 0.9, got '1'"],
  start: [['--cluster', '17'], "--cluster must be an integer from 1 to 16, got '17'"],
  'test:soak': [['--runs', '0'], "--runs must be an integer >= 1, got '0'"],
};

/** A few more usage errors: enumerated options, a missing argument. */
const MORE: Array<[string, string[], string]> = [
  ['kill-restart', ['--mode', 'explode'], "--mode must be one of actor, node, got 'explode'"],
  ['check:history', [], 'missing the history FILE'],
  ['certs', ['--nodes', 'p1'], '--out DIR is required'],
  [
    'certs',
    ['--out', '/nonexistent-dir', '--nodes', 'p1,p1'],
    "--nodes names a node twice: 'p1,p1'",
  ],
  [
    'node',
    ['--name', 'n1', '--listen', '4000'],
    "--listen expects HOST:PORT, e.g. 0.0.0.0:4000, got '4000'",
  ],
  [
    'node',
    ['--name', 'n1', '--listen', '127.0.0.1:4000', '--port', '5'],
    '--listen gives the host and port: not with --host or --port',
  ],
  [
    'check:model',
    ['--protocol', 'raft'],
    "--protocol must be one of paxos, epaxos, rsm, got 'raft'",
  ],
  [
    'check:model',
    ['--dup', '2'],
    '--dup, --loss and --no-loss bound the multiset network: add --network multiset',
  ],
  [
    'check:model',
    ['--timers', '1'],
    '--timers is an EPaxos and rsm option: give --protocol epaxos or rsm',
  ],
  [
    'check:model',
    ['--protocol', 'rsm', '--values', '2'],
    '--values is not an rsm option (rsm: --participants, --ops, --timers, --crashes)',
  ],
  [
    'check:model',
    ['--protocol', 'rsm', '--ops', 'x'],
    "--ops must be an integer from 1 to 5, got 'x'",
  ],
  ['check:model', ['--max-memory-mb', '8'], "--max-memory-mb must be an integer >= 16, got '8'"],
  [
    'check:model',
    ['--protocol', 'epaxos', '--no-view'],
    '--no-view is a Paxos option: not with --protocol epaxos',
  ],
  [
    'check:model',
    ['--protocol', 'rsm', '--no-symmetry'],
    '--no-symmetry is not an rsm option (rsm: --participants, --ops, --timers, --crashes)',
  ],
  ['check:model', ['--search', 'fast'], "--search must be one of merged, exact, got 'fast'"],
  ['check:model', ['--order', 'lifo'], "--order must be one of rank, fifo, got 'lifo'"],
  [
    'check:model',
    ['--search', 'exact', '--order', 'fifo'],
    '--order orders the merged search: not with --search exact or --network multiset',
  ],
  [
    'check:model',
    ['--protocol', 'epaxos', '--order', 'rank'],
    '--order is a Paxos option: not with --protocol epaxos',
  ],
  ['check:model', ['--workers', '0'], "--workers must be an integer from 1 to 64, got '0'"],
  [
    'check:model',
    ['--network', 'multiset', '--workers', '2'],
    '--workers runs the merged search in threads: not with --search exact or --network multiset',
  ],
  [
    'check:model',
    ['--protocol', 'rsm', '--workers', 'auto'],
    '--workers is not an rsm option (rsm: --participants, --ops, --timers, --crashes)',
  ],
  [
    'check:model',
    ['--network', 'multiset', '--search', 'merged'],
    '--search merged needs the set network (it merges networks that only grow)',
  ],
  [
    'check:model',
    ['--protocol', 'epaxos', '--search', 'exact'],
    '--search is a Paxos option: not with --protocol epaxos',
  ],
  [
    'check:model',
    ['--protocol', 'epaxos', '--mutate', 'no-reservation'],
    "--mutate must be one of majority-fast-quorum, drop-dependency, execute-before-commit, trim-own-checkpoint, none, got 'no-reservation'",
  ],
  ['check:model', ['--within', 'no-such-trace.json'], '--within: no file no-such-trace.json'],
  [
    'check:model',
    ['--within', 'test/fixtures/model/epaxos-drop-dependency.json', '--participants', '5'],
    "--participants: with --within the model is the trace's (its options and core)",
  ],
  [
    'check:model',
    ['--protocol', 'rsm', '--within', 'test/fixtures/model/epaxos-drop-dependency.json'],
    '--within test/fixtures/model/epaxos-drop-dependency.json is a trace of epaxos: not with --protocol rsm',
  ],
  [
    'check:model',
    ['--within', 'test/fixtures/model/paxos-forget-accepted-on-promise.json', '--workers', '2'],
    "--workers: --within searches exactly (breadth first, within the trace's steps)",
  ],
  [
    'check:model',
    ['--within', 'package.json'],
    '--within: package.json is not a model trace (actorcluster-model-trace/1)',
  ],
  [
    'bench:paxos',
    ['--only', 'single,everything'],
    "--only must be a comma-separated list of single, throughput, failure, scale, got 'single,everything'",
  ],
  [
    'bench:paxos',
    ['--scale', '3,0'],
    "--scale must be a comma-separated list of cluster sizes from 1 to 15, got '3,0'",
  ],
  ['bench:paxos', ['--storage', 'disk'], "--storage must be one of memory, lmdb, both, got 'disk'"],
  ['bench:paxos', ['--kills', '0'], "--kills must be an integer >= 1, got '0'"],
  ['bench:paxos', ['--clients', 'many'], "--clients must be an integer >= 1, got 'many'"],
  ['bench:paxos', ['--duration', '0'], "--duration must be a number > 0, got '0'"],
  ['bench:paxos', ['--window', '0'], "--window must be an integer >= 1, got '0'"],
  ['bench:paxos', ['--batch-max', '2.5'], "--batch-max must be an integer >= 1, got '2.5'"],
  [
    'sim',
    ['--delay', 'gaussian:2'],
    "--delay: bad delay 'gaussian:2': unknown distribution 'gaussian' (expected fixed:MS, uniform:MIN..MAX, exponential:MEAN or long-tail:MEAN)",
  ],
  [
    'sim',
    ['--nodes', '3', '--at', '500 crash n4 for 300'],
    "--at: unknown node 'n4' (the nodes are n1..n3) in '500 crash n4 for 300'",
  ],
  [
    'sim',
    ['--power-loss-rate', 'often'],
    "--power-loss-rate must be a number from 0 to 1000, got 'often'",
  ],
  ['sim', ['--paxos', 'fast'], "--paxos must be one of terms, classic, got 'fast'"],
  ['sim', ['--protocol', 'raft'], "--protocol must be one of paxos, epaxos, got 'raft'"],
  ['dashboard', ['--protocol', 'raft'], "--protocol must be one of paxos, epaxos, got 'raft'"],
  [
    'sim',
    ['--protocol', 'epaxos', '--conflict', '2'],
    "--conflict must be a number from 0 to 1, got '2'",
  ],
  [
    'sim',
    ['--protocol', 'epaxos', '--checkpoint-every', 'x'],
    "--checkpoint-every must be an integer >= 0, got 'x'",
  ],
  [
    'sim',
    ['--checkpoint-every', '5'],
    '--checkpoint-every is an EPaxos option: give --protocol epaxos',
  ],
  ['sim', ['--join-at', '5'], '--join-at is an EPaxos option: give --protocol epaxos'],
  ['sim', ['--reconfigs', 'some'], "--reconfigs must be an integer from 0 to 100, got 'some'"],
  [
    'sim',
    ['--protocol', 'epaxos', '--reconfigs', '2'],
    '--reconfigs is a Paxos option: not with --protocol epaxos',
  ],
  ['sim', ['--view'], '--view draws a replayed trace: give --replay FILE'],
  [
    'sim',
    ['--protocol', 'epaxos', '--join-at', 'soon'],
    "--join-at must be an integer >= 0, got 'soon'",
  ],
  ['bench:inventory', ['--baseline', 'maybe'], "--baseline must be one of yes, no, got 'maybe'"],
  [
    'bench:epaxos',
    ['--conflicts', '0,200'],
    "--conflicts must be a comma-separated list of percentages from 0 to 100, got '0,200'",
  ],
  [
    'bench:epaxos',
    ['--nodes', '2'],
    "--nodes must be a comma-separated list of cluster sizes from 3 to 9, got '2'",
  ],
  ['bench:epaxos', ['--storage', 'disk'], "--storage must be one of memory, lmdb, got 'disk'"],
  ['chaos', ['--protocol', 'raft'], "--protocol must be one of paxos, epaxos, got 'raft'"],
  [
    'chaos',
    ['--hosts', '--delay-ms', 'x'],
    "--delay-ms must be an integer from 0 to 1000, got 'x'",
  ],
  ['chaos', ['--inside-hosts', '{}'], '--inside-hosts is internal: set by --hosts'],
  [
    'chaos',
    ['--replace', '--protocol', 'epaxos'],
    '--replace is for Paxos services (EPaxos changes members with EPaxos.join)',
  ],
  ['kill-restart', ['--protocol', 'raft'], "--protocol must be one of paxos, epaxos, got 'raft'"],
  [
    'start',
    ['--name', 'a', '--listen', '4000'],
    "--listen expects HOST:PORT, e.g. 0.0.0.0:4000, got '4000'",
  ],
  [
    'start',
    ['--protocol', 'epaxos'],
    '--protocol goes with --cluster (in a session, say it to start: { protocol })',
  ],
];

/**
 * Runs that are not usage errors, each checked by its exit code and one line it prints (`stdout`:
 * a line anywhere; `stderr`: the first line, with no usage after it and no stack): model traces
 * written, replayed, refused. Files under TMP are written before the runs.
 */
const TMP = mkdtempSync(join(tmpdir(), 'cli-test-'));
afterAll(() => rmSync(TMP, { recursive: true, force: true }));
const EPAXOS_TRACE = 'test/fixtures/model/epaxos-drop-dependency.json';
const epaxosTrace = JSON.parse(readFileSync(`${ROOT}/${EPAXOS_TRACE}`, 'utf8')) as {
  protocol: string;
  options: { mutations: string[] };
  steps: Array<{ to?: string }>;
};
writeFileSync(`${TMP}/raft.json`, JSON.stringify({ ...epaxosTrace, protocol: 'raft' }));
writeFileSync(
  `${TMP}/mutation.json`,
  JSON.stringify({ ...epaxosTrace, options: { ...epaxosTrace.options, mutations: ['x'] } }),
);
writeFileSync(
  `${TMP}/tampered.json`,
  JSON.stringify({
    ...epaxosTrace,
    steps: epaxosTrace.steps.map((s, i) => (i === 4 ? { ...s, to: 'r3' } : s)),
  }),
);
const RUNS: Array<[string, string[], number, 'stdout' | 'stderr', RegExp]> = [
  [
    'check:model',
    [
      ...['--protocol', 'epaxos', '--values', '2', '--timers', '0', '--crashes', '0'],
      ...['--mutate', 'drop-dependency', '--quiet', '--trace-out', `${TMP}/dd.json`],
    ],
    1,
    'stdout',
    /^trace written to \S+dd\.json \(replay: npm run sim -- --replay \S+dd\.json\)$/,
  ],
  ['sim', ['--replay', EPAXOS_TRACE], 1, 'stdout', /^VIOLATION \(order: .* c2 before c1, .*\)$/],
  [
    'check:model',
    ['--within', EPAXOS_TRACE, '--quiet', '--trace-out', `${TMP}/within.json`],
    1,
    'stdout',
    /^VIOLATION \(order: .*\) after 8 steps \(a shortest trace made of \S+drop-dependency\.json's steps\)/,
  ],
  [
    'check:model',
    ['--protocol', 'rsm', '--participants', '1', '--ops', '1', '--mutate', 'none', '--quiet'],
    0,
    'stdout',
    /^model check: rsm, core apps\/rsm\/core\.ts over an append machine; 1 replica, /,
  ],
  [
    'check:model',
    ['--within', EPAXOS_TRACE, '--mutate', 'none', '--quiet'],
    0,
    'stdout',
    /^result: no violation; every state those steps reach explored: \d+ states/,
  ],
  [
    'check:model',
    ['--within', 'test/fixtures/model/paxos-forget-accepted-on-promise.json', '--quiet'],
    1,
    'stdout',
    /^VIOLATION \(agreement: .*\) after \d+ steps \(a shortest trace made of /,
  ],
  [
    'sim',
    ['--replay', 'test/fixtures/model/paxos-forget-accepted-on-promise.json'],
    1,
    'stdout',
    /^VIOLATION \(agreement: two values chosen/,
  ],
  [
    'sim',
    ['--seed', '3', '--ops', '40', '--reconfigs', '3', '--nodes', '3'],
    0,
    'stdout',
    /^reconfigurations: 1 replicas added, 2 removed$/m,
  ],
  [
    'sim',
    ['--seed', '4', '--nodes', '3', '--ops', '100', '--reconfigs', '6', '--mutate', 'apply-void'],
    1,
    'stdout',
    /^VIOLATION \(logs\) with seed 4: n2's log differs from the others' at 48$/m,
  ],
  [
    'sim',
    ['--replay', `${TMP}/raft.json`],
    2,
    'stderr',
    /^--replay: \S+raft\.json: protocol raft cannot be replayed \(paxos or epaxos\)$/,
  ],
  [
    'sim',
    ['--replay', `${TMP}/mutation.json`],
    2,
    'stderr',
    /^--replay: \S+mutation\.json: unknown epaxos mutation x$/,
  ],
  [
    'sim',
    ['--replay', `${TMP}/tampered.json`],
    2,
    'stderr',
    /^--replay: step 5 is not possible here: \{"kind":"deliver","from":"r2","to":"r3"/,
  ],
];

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(script: NpmScript, args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', script.file, ...script.preset, ...args],
      {
        cwd: ROOT,
        env: { ...process.env, LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: RUN_TIMEOUT_MS,
        killSignal: 'SIGKILL',
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every run, keyed by script name and arguments, done CONCURRENCY at a time. */
const results = new Map<string, Result>();
const key = (name: string, args: string[]) => `${name} ${args.join(' ')}`;

beforeAll(async () => {
  const jobs: Array<[NpmScript, string[]]> = [];
  for (const s of npmScripts) {
    jobs.push([s, ['--help']]);
    jobs.push([s, ['--bogus']]);
    const bad = MALFORMED[s.name];
    if (bad) jobs.push([s, bad[0]]);
  }
  for (const [name, args] of MORE) jobs.push([npmScripts.find((s) => s.name === name)!, args]);
  for (const [name, args] of RUNS) jobs.push([npmScripts.find((s) => s.name === name)!, args]);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const [s, args] = jobs[next++]!;
      results.set(key(s.name, args), await run(s, args));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}, 300_000);

const show = (r: Result) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
const NO_STACK = /^ {4}at /m;

/** The checks of a usage error: exit 2, `first` as stderr's first line, the usage, no stack. */
function expectUsageError(s: NpmScript, args: string[], first: string | RegExp): void {
  const r = results.get(key(s.name, args))!;
  const usage = results.get(key(s.name, ['--help']))!.stdout.trim();
  expect(r.code, show(r)).toBe(2);
  const line = r.stderr.split('\n')[0]!;
  if (typeof first === 'string') expect(line, show(r)).toBe(first);
  else expect(line, show(r)).toMatch(first);
  expect(r.stderr, show(r)).toContain(usage);
  expect(r.stderr, show(r)).not.toMatch(NO_STACK);
  expect(r.stdout, show(r)).toBe('');
}

describe('the npm scripts share one command-line style', () => {
  it('finds the npm scripts that run scripts/*.ts, each listed here', () => {
    expect(npmScripts.length).toBeGreaterThanOrEqual(15);
    for (const s of npmScripts) {
      expect(
        s.name in MALFORMED,
        `${s.name}: add a malformed value to MALFORMED (or null if it has no numeric option)`,
      ).toBe(true);
      expect(s.usesCli, `${s.file} must parse its options with scripts/support/cli.ts`).toBe(true);
    }
  });

  describe.each(npmScripts.map((s) => [s.name, s] as const))('npm run %s', (_name, s) => {
    it('--help prints the usage and exits 0', () => {
      const r = results.get(key(s.name, ['--help']))!;
      expect(r.code, show(r)).toBe(0);
      expect(r.stdout, show(r)).toMatch(/^Usage/);
      expect(r.stderr, show(r)).not.toMatch(NO_STACK);
    });

    it('--bogus: one line naming it, the usage, exit 2', () =>
      expectUsageError(s, ['--bogus'], /'--bogus'/));

    const bad = MALFORMED[s.name];
    if (bad)
      it(`a malformed value (${bad[0].join(' ')}): one line, the usage, exit 2`, () =>
        expectUsageError(s, bad[0], bad[1]));
  });

  it.each(MORE)('npm run %s -- %j: one line, the usage, exit 2', (name, args, first) =>
    expectUsageError(npmScripts.find((s) => s.name === name)!, args, first),
  );
});

describe('model traces on the command line (check:model --trace-out, sim --replay)', () => {
  it.each(RUNS)('npm run %s -- %j: exit %i', (name, args, code, stream, line) => {
    const r = results.get(key(name, args))!;
    expect(r.code, show(r)).toBe(code);
    if (stream === 'stdout')
      expect(
        r.stdout.split('\n').some((l) => line.test(l)),
        show(r),
      ).toBe(true);
    else {
      expect(r.stderr.split('\n')[0], show(r)).toMatch(line);
      expect(r.stderr, show(r)).not.toContain('Usage');
      expect(r.stderr, show(r)).not.toMatch(NO_STACK);
    }
  });
});
