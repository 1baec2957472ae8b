// Every npm script that runs a script under scripts/ has one command-line style (the wrapper in
// scripts/support/cli.ts): --help prints the usage and exits 0; an unknown or malformed option
// prints one line naming it, then the usage, on stderr, and exits 2, with no stack trace.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

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
    ['--protocol', 'epaxos', '--mutate', 'no-reservation'],
    "--mutate must be one of majority-fast-quorum, drop-dependency, execute-before-commit, trim-own-checkpoint, got 'no-reservation'",
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
  ['kill-restart', ['--protocol', 'raft'], "--protocol must be one of paxos, epaxos, got 'raft'"],
  [
    'start',
    ['--protocol', 'epaxos'],
    '--protocol goes with --cluster (in a session, say it to start: { protocol })',
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
