// The harness as students run it: `scripts/course.ts --impl <module>` in a child process, on the
// student template (FAILs, with a reason), on this project's Paxos (PASSes, locally and on node
// processes, with no node-down noise), on broken modules (FAIL or exit 2, never a stack trace).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Bound on one harness run in a child process (generous: the machine may be busy). */
const CHILD_TIMEOUT_MS = 90_000;

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Runs `node --import tsx scripts/course.ts ...args` from the project root. */
function course(args: string[]): Promise<Outcome> {
  const env = { ...process.env };
  // The child logs as a user's run does (vitest's environment would silence it).
  for (const key of Object.keys(env))
    if (key.startsWith('VITEST') || key === 'LOG_LEVEL') delete env[key];
  env.LOG_FORMAT = 'json';
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/course.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`course ${args.join(' ')} did not finish; it printed:\n${stdout}\n${stderr}`),
      );
    }, CHILD_TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

const failLines = (out: string) =>
  out.split('\n').filter((l) => /^case \d+ run +\d+ \[\d+\]: FAIL/.test(l));
const passLines = (out: string) =>
  out.split('\n').filter((l) => /^case \d+ run +\d+ \[\d+\]: PASS/.test(l));

// The template's run waits out all 10 attempts of 1 s: start it first, let the others run meanwhile.
let skeleton: Promise<Outcome>;
beforeAll(() => {
  skeleton = course(['--impl', 'examples/student-paxos/paxos.ts', '--cases', '1', '--runs', '1']);
  skeleton.catch(() => undefined);
});
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

describe('course --impl', () => {
  it('grades this project Paxos through --impl as PASS (local)', async () => {
    const r = await course(['--impl', './apps/paxos/index.ts', '--cases', '1,4', '--runs', '1']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('impl ./apps/paxos/index.ts');
    expect(passLines(r.stdout)).toHaveLength(2);
    expect(r.stdout).toContain('2 passed, 0 failed');
  }, 120_000);

  it('grades it on node processes (dist), printing no node-down warnings', async () => {
    const r = await course([
      '--mode',
      'dist',
      '--impl',
      'apps/paxos/index.ts',
      '--cases',
      '4',
      '--runs',
      '1',
    ]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(passLines(r.stdout)).toHaveLength(1);
    // The nodes killed at the end of the run are planned node-downs: not warnings.
    expect(r.stderr).not.toMatch(/node down/);
  }, 120_000);

  it('FAILs a module whose functions throw, with the error as the reason', async () => {
    const r = await course([
      '--impl',
      'test/course/fixtures/throwing-paxos.ts',
      '--cases',
      '1,4',
      '--runs',
      '1',
    ]);
    expect(r.code).toBe(1);
    const fails = failLines(r.stdout);
    expect(fails).toHaveLength(2);
    for (const line of fails)
      expect(line).toMatch(
        /termination: nobody decided; start threw: Error: not implemented: start \(all 3\)/,
      );
    expect(r.stdout).toContain('0 passed, 2 failed');
  }, 120_000);

  it('FAILs a module whose process crashes, naming the crash (without waiting out the attempts)', async () => {
    const r = await course([
      '--impl',
      'test/course/fixtures/crashing-paxos.ts',
      '--cases',
      '1',
      '--runs',
      '1',
    ]);
    expect(r.code).toBe(1);
    expect(failLines(r.stdout)[0]).toMatch(
      /termination: nobody decided; its process exited before deciding: Error: oops: cannot handle propose yet \(all 3\)/,
    );
    const ms = Number(/, (\d+) ms, seed/.exec(failLines(r.stdout)[0]!)?.[1]);
    expect(ms).toBeLessThan(5000);
  }, 120_000);

  it('refuses an unusable --impl with one line and exit 2', async () => {
    const missing = await course(['--impl', './no/such/paxos.ts']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^--impl \.\/no\/such\/paxos\.ts: no such file \(.*\)\n$/);
    const noStart = await course(['--impl', 'test/course/fixtures/no-start.ts']);
    expect(noStart.code).toBe(2);
    expect(noStart.stderr).toMatch(
      /^--impl test\/course\/fixtures\/no-start\.ts does not export start\(name, participants, upper\)/,
    );
    expect(noStart.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(noStart.stdout).toBe('');
  }, 120_000);

  it('refuses malformed options with one line and the usage, exit 2', async () => {
    const r = await course(['--runs', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe("--runs must be an integer >= 1, got '0'");
    expect(r.stderr).toContain('Usage: npm run course');
  }, 120_000);

  it('FAILs the student template: every run, termination, nobody decided', async () => {
    const r = await skeleton;
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toContain('impl examples/student-paxos/paxos.ts');
    const fails = failLines(r.stdout);
    expect(fails).toHaveLength(1);
    expect(fails[0]).toMatch(
      /FAIL termination: nobody decided \(no \{ type: 'decide', value \} reached any upper in 10 attempts of 1 s\)/,
    );
    expect(r.stdout).toContain('0 passed, 1 failed');
  }, 120_000);
});
