// The seed's session piped into `npm start` all at once, as `npm start < session.txt` does:
// every line runs after the previous one has finished (a later line reads what an earlier
// `await` stored), errors read like iex on one line, and lastError() has the stack.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { TSX } from '../session.ts';

function runPiped(input: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TSX, 'scripts/repl.ts'], {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, out }));
    child.stdin.end(input);
  });
}

it('the seed session from a file runs line after line, and ends when the input ends', async () => {
  const session = readFileSync('examples/seed-session.txt', 'utf8');
  const { code, out } = await runPiped(`${session}lastError()\n`);
  expect(code, out).toBe(0);
  const results = out
    .split('actorcluster> ')
    .slice(1)
    .map((r) => r.trim());
  expect(results.slice(0, 10), out).toEqual([
    'undefined',
    "[ 'p1', 'p2', 'p3' ]",
    expect.stringMatching(/^\[ #PID<nonode\.\d+>, #PID<nonode\.\d+>, #PID<nonode\.\d+> \]$/),
    expect.stringMatching(/^#PID<nonode\.\d+>$/),
    '{ ok: true, stock: { units: 10 } }',
    '{ units: 10 }',
    '10', // v.units: the line after `v = await ...` sees v
    '{ ok: true, stock: { units: 6 } }',
    expect.stringContaining("error: 'insufficient_stock'"),
    '** (invalid_argument) a quantity must be a positive integer, got -1',
  ]);
  expect(results[10]).toBe('[ undefined, undefined, undefined ]');
  // the stack is there on demand, and only then
  expect(results[11]).toMatch(/^ActorError: a quantity must be a positive integer, got -1\n\s+at /);
  expect(results.slice(0, 11).join('\n')).not.toMatch(/Uncaught|\n\s+at /);
}, 60_000);
