import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { Session, TSX } from '../session.ts';

const PROMPT = 'actorcluster> ';
let session: Session | undefined;
afterEach(() => session?.kill());

describe('npm start (the REPL)', () => {
  it('the prompt is a process: spawn, send, receive, crash and recover as typed', async () => {
    session = new Session(process.execPath, [...TSX, 'scripts/repl.ts'], { LOG_LEVEL: 'warn' });
    await session.waitFor(PROMPT);
    expect(await session.line('me = self()', PROMPT)).toMatch(/#PID<nonode\.1>/);
    await session.line(
      'pid = spawn(async () => { const m = await receive(); send(m.from, { pong: m.n }) })',
      PROMPT,
    );
    expect(
      await session.line('send(pid, { from: self(), n: 7 }); await receive()', PROMPT),
    ).toContain('{ pong: 7 }');
    expect(await session.line('send(self(), "a"); send(self(), "b"); flush()', PROMPT)).toContain(
      "[ 'a', 'b' ]",
    );
    expect(await session.line('await receive(null, 10) === TIMEOUT', PROMPT)).toContain('true');
    const crash = await session.line(
      // The receive ends when the crash takes the top-level process down (not a timed wait).
      'spawnLink(() => { throw new Error("oops") }); await receive(null, 10000)',
      PROMPT,
    );
    expect(crash).toContain('crash report');
    expect(crash).toContain('top-level process exited');
    expect(await session.line('self().equals(me)', PROMPT)).toContain('false');
    expect(await session.line("h('receive')", PROMPT)).toContain(
      'await receive(pattern?, timeoutMs?)',
    );
    session.kill();
  });

  it('prints help with --help', () => {
    const out = execFileSync(process.execPath, [...TSX, 'scripts/repl.ts', '--help'], {
      encoding: 'utf8',
    });
    expect(out).toContain('Usage: npm start');
  });
});

describe('npm run example:actors (the README example)', () => {
  it('prints the documented tour', () => {
    const out = execFileSync(process.execPath, [...TSX, 'scripts/example-actors.ts'], {
      encoding: 'utf8',
      env: { ...process.env, LOG_LEVEL: 'silent' },
    });
    expect(out).toMatch(/1\. reply: \{ pong: 1 \} \(left in the mailbox: unrelated \)/);
    expect(out).toMatch(/2\. EXIT from #PID<nonode\.\d+> reason: boom/);
    expect(out).toContain('3. DOWN reason: killed');
    expect(out).toMatch(
      /4\. counter #PID<nonode\.(\d+)> at 2\n {3}killed; restarted as #PID<nonode\.\d+> at 1/,
    );
    expect(out.trim().endsWith('done')).toBe(true);
  });
});

describe('two sessions as two nodes (the README walkthrough)', () => {
  it('a session joins another and sends to a name registered there', async () => {
    const env = { LOG_LEVEL: 'warn', ACTORCLUSTER_COOKIE: 'repl-test-cookie-123' };
    const a = new Session(process.execPath, [...TSX, 'scripts/repl.ts', '--name', 'a'], env);
    const b = { s: undefined as Session | undefined };
    try {
      await a.waitFor(PROMPT);
      const aName = /node (a@127\.0\.0\.1:\d+)/.exec(a.transcript)?.[1];
      expect(aName, a.transcript).toMatch(/^a@127\.0\.0\.1:\d+$/);
      await a.line("register('shell', self())", PROMPT);
      b.s = new Session(
        process.execPath,
        [...TSX, 'scripts/repl.ts', '--name', 'b', '--join', aName!],
        env,
      );
      await b.s.waitFor(PROMPT);
      expect(b.s.transcript).toContain(`Connected nodes: ${aName}`);
      await b.s.line("send(['shell', 'a'], { hello: 'from b', from: self() })", PROMPT);
      const got = await a.line('m = await receive(null, 5000)', PROMPT);
      expect(got).toContain("hello: 'from b'");
      expect(got).toMatch(/from: #PID<b\.\d+>/);
      await a.line("send(m.from, 'hi back')", PROMPT);
      expect(await b.s.line('await receive(null, 5000)', PROMPT)).toContain("'hi back'");
      expect(await b.s.line('Node.list()', PROMPT)).toContain(aName);
    } finally {
      a.kill();
      b.s?.kill();
    }
  });
});
