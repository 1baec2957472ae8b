// The command-line wrapper of the scripts (scripts/support/cli.ts), on given arguments. Its usage
// errors and --help end the process: here process.exit throws instead, so that each case can be
// checked in this process; one case runs in a child process to see the real exit code.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { cli } from '../../scripts/support/cli.ts';

const USAGE = 'Usage: probe [options]\n\nOptions:\n  --runs N';

class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`exit ${code}`);
  }
}

let exit: MockInstance;
let error: MockInstance;
let log: MockInstance;
beforeEach(() => {
  exit = vi.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Exit(code === undefined || code === null ? undefined : Number(code));
  });
  error = vi.spyOn(console, 'error').mockImplementation(() => {});
  log = vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const parse = (args: string[], allowPositionals = false) =>
  cli({
    usage: USAGE,
    args,
    allowPositionals,
    options: {
      runs: { type: 'string', default: '3' },
      rate: { type: 'string' },
      port: { type: 'string' },
      mode: { type: 'string' },
      cases: { type: 'string' },
      verbose: { type: 'boolean' },
    },
  });

/** Runs `f`, which must end the process with a usage error; returns the message's first line. */
function usageError(f: () => unknown): string {
  let thrown: unknown;
  try {
    f();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(Exit);
  expect((thrown as Exit).code).toBe(2);
  expect(exit).toHaveBeenCalledTimes(1);
  expect(error).toHaveBeenCalledTimes(1);
  const text = String(error.mock.calls[0]![0]);
  expect(text).toContain(`\n\n${USAGE}`);
  const first = text.split('\n')[0]!;
  expect(text.split('\n')[1]).toBe('');
  return first;
}

describe('cli: valid command lines', () => {
  it('gives the values, the defaults and the typed readings', () => {
    const args = parse(['--rate', '2.5', '--port', '8080', '--mode', 'b', '--cases', '1, 2,3']);
    expect(args.values.runs).toBe('3');
    expect(args.values.verbose).toBeUndefined();
    expect(args.int('runs', { min: 1 })).toBe(3);
    expect(args.number('rate', { above: 0 })).toBe(2.5);
    expect(args.port('port')).toBe(8080);
    expect(args.choice('mode', ['a', 'b'] as const)).toBe('b');
    expect(args.intList('cases', { min: 1 })).toEqual([1, 2, 3]);
    expect(args.positionals).toEqual([]);
    expect(exit).not.toHaveBeenCalled();
  });

  it('reads an absent option as undefined, and a boolean as true', () => {
    const args = parse(['--verbose']);
    expect(args.values.verbose).toBe(true);
    expect(args.number('rate')).toBeUndefined();
    expect(args.port('port')).toBeUndefined();
    expect(args.choice('mode', ['a'])).toBeUndefined();
    expect(args.intList('cases')).toBeUndefined();
  });

  it('takes positionals when allowed', () => {
    expect(parse(['file.jsonl', '--runs', '1'], true).positionals).toEqual(['file.jsonl']);
  });

  it('--help and -h print the usage on stdout and exit 0', () => {
    for (const flag of ['--help', '-h']) {
      exit.mockClear();
      log.mockClear();
      expect(() => parse(['--runs', 'x', flag])).toThrow(Exit);
      expect(exit).toHaveBeenCalledWith(0);
      expect(log).toHaveBeenCalledWith(USAGE);
      expect(error).not.toHaveBeenCalled();
    }
  });
});

describe('cli: usage errors print one line and the usage, and exit 2', () => {
  it('an unknown option', () => {
    expect(usageError(() => parse(['--bogus']))).toBe("Unknown option '--bogus'");
  });

  it('a stray argument', () => {
    expect(usageError(() => parse(['extra']))).toBe(
      "Unexpected argument 'extra'. This command does not take positional arguments",
    );
  });

  it('a missing value', () => {
    expect(usageError(() => parse(['--runs']))).toBe("Option '--runs <value>' argument missing");
  });

  it('a value that looks like an option', () => {
    expect(usageError(() => parse(['--runs', '-3']))).toBe(
      "Option '--runs' argument is ambiguous. To specify an option argument starting with a dash use '--runs=-XYZ'.",
    );
  });

  it('a value given to a boolean', () => {
    expect(usageError(() => parse(['--verbose=yes']))).toMatch(/^Option '--verbose' does not take/);
  });

  it.each([
    ['x', { min: 1 }, "--runs must be an integer >= 1, got 'x'"],
    ['', { min: 1 }, "--runs must be an integer >= 1, got ''"],
    ['0', { min: 1 }, "--runs must be an integer >= 1, got '0'"],
    ['1.5', { min: 1 }, "--runs must be an integer >= 1, got '1.5'"],
    ['10', { min: 1, max: 9 }, "--runs must be an integer from 1 to 9, got '10'"],
    ['10', { max: 9 }, "--runs must be an integer <= 9, got '10'"],
    ['Infinity', {}, "--runs must be an integer, got 'Infinity'"],
  ])('an integer: --runs=%j with %j', (text, bounds, message) => {
    expect(usageError(() => parse([`--runs=${text}`]).int('runs', bounds))).toBe(message);
  });

  it.each([
    ['0', { above: 0 }, "--rate must be a number > 0, got '0'"],
    ['fast', { above: 0 }, "--rate must be a number > 0, got 'fast'"],
    ['1', { min: 0, max: 0.9 }, "--rate must be a number from 0 to 0.9, got '1'"],
    ['2', { above: 0, max: 1 }, "--rate must be a number > 0 and <= 1, got '2'"],
  ])('a number: --rate=%j with %j', (text, bounds, message) => {
    expect(usageError(() => parse([`--rate=${text}`]).number('rate', bounds))).toBe(message);
  });

  it('a port', () => {
    expect(usageError(() => parse(['--port', '65536']).port('port'))).toBe(
      "--port must be an integer from 0 to 65535, got '65536'",
    );
  });

  it('a choice', () => {
    expect(usageError(() => parse(['--mode', 'c']).choice('mode', ['a', 'b']))).toBe(
      "--mode must be one of a, b, got 'c'",
    );
  });

  it('a list of integers', () => {
    expect(usageError(() => parse(['--cases', '1,,2']).intList('cases'))).toBe(
      "--cases must be a comma-separated list of integers, got '1,,2'",
    );
    error.mockClear();
    exit.mockClear();
    expect(usageError(() => parse(['--cases', '1,0']).intList('cases', { min: 1 }))).toBe(
      "--cases must be a comma-separated list of integers, got '1,0'",
    );
  });

  it("a script's own check, through fail()", () => {
    expect(usageError(() => parse([]).fail('--x and --y cannot be combined'))).toBe(
      '--x and --y cannot be combined',
    );
  });
});

describe('cli: in a real process', () => {
  it('exits 2 with the message and the usage on stderr, nothing on stdout', () => {
    const cliUrl = new URL('../../scripts/support/cli.ts', import.meta.url).href;
    // Under -e, process.argv has no script path: the arguments start at index 1.
    const probe = `import { cli } from '${cliUrl}';
const args = cli({ usage: 'Usage: probe', args: process.argv.slice(1), options: { runs: { type: 'string' } } });
console.log('runs', args.int('runs', { min: 1 }));`;
    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', '--input-type=module', '-e', probe, '--', ...args],
        { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) },
      );
    const bad = run('--runs', 'x');
    expect(bad.status, bad.stderr).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toBe("--runs must be an integer >= 1, got 'x'\n\nUsage: probe\n");
    const good = run('--runs', '4');
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toBe('runs 4\n');
  }, 30_000);
});
