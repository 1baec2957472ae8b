// Drives `npm start` through stdin with the README's sessions and checks what a user sees.
import { afterEach, describe, expect, it } from 'vitest';
import { scaledMs } from '../../transport/timeouts.ts';
import { Session } from '../session.ts';

const PROMPT = 'actorcluster> ';
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let session: Session | undefined;
afterEach(() => session?.kill());

describe('npm start: the replicated services session', () => {
  it('replicas in the session: add, view, kill one, still serving, restart, caught up', async () => {
    session = new Session(NPM, ['start', '--silent'], { LOG_LEVEL: 'warn' });
    const s = session;
    await s.waitFor(PROMPT, 0, scaledMs(30_000));
    expect(s.transcript).toContain('Preloaded: the process runtime');
    expect(
      await s.line(
        "procs = ['p1', 'p2', 'p3']; pids = procs.map(p => InventoryServer.start(p, procs))",
        PROMPT,
      ),
    ).toMatch(/\[ #PID<nonode\.\d+>, #PID<nonode\.\d+>, #PID<nonode\.\d+> \]/);
    expect(await s.line("await InventoryServer.add(pids[0], 'apple', 10)", PROMPT)).toContain(
      '{ ok: true, stock: { apple: 10 } }',
    );
    expect(await s.line('await InventoryServer.view(pids[2])', PROMPT)).toContain('{ apple: 10 }');
    expect(
      await s.line("await InventoryServer.removeFromInventory(pids[1], 'apple', 11)", PROMPT),
    ).toContain("error: 'insufficient_stock'");
    await s.line('kill(pids[0])', PROMPT);
    expect(await s.line("await InventoryServer.remove(pids[1], 'apple', 3)", PROMPT)).toContain(
      '{ ok: true, stock: { apple: 7 } }',
    );
    await s.line("pids[0] = InventoryServer.start('p1', procs)", PROMPT);
    expect(await s.line("await InventoryServer.get(pids[0], 'apple')", PROMPT)).toMatch(/^7\s*$/m);
    expect(await s.line("await InventoryServer.add(pids[0], 'apple', 0)", PROMPT)).toContain(
      'a quantity must be a positive integer',
    );
    expect(
      await s.line(
        "srs = ['s1', 's2', 's3'].map((s, _, all) => SeatReserve.start(s, all)); (await Promise.all(srs.map((s, i) => SeatReserve.reserve(s, 1, 1, 'user' + i)))).filter(r => r.ok).length",
        PROMPT,
      ),
    ).toMatch(/^1\s*$/m);
    expect(await s.line("h('InventoryServer')", PROMPT)).toContain(
      'InventoryServer.start(name, procs)',
    );
    await s.line('pids.forEach(p => kill(p))', PROMPT);
    s.kill();
  });

  it('--cluster 3: replicas in three node processes; a node SIGKILLed and relaunched', async () => {
    session = new Session(NPM, ['start', '--silent', '--', '--cluster', '3'], {
      LOG_LEVEL: 'warn',
    });
    const s = session;
    await s.waitFor(PROMPT, 0, scaledMs(60_000));
    expect(s.transcript).toContain('Replicas run on nodes p1, p2, p3');
    expect(await s.line("await InventoryServer.add(pids[0], 'apple', 10)", PROMPT)).toContain(
      '{ ok: true, stock: { apple: 10 } }',
    );
    expect(
      await s.line("await cluster.killNode('p1'); await InventoryServer.view(pids[1])", PROMPT),
    ).toContain('{ apple: 10 }');
    await s.line("await cluster.startNode('p1'); pids = cluster.pids()", PROMPT);
    expect(await s.line("await InventoryServer.get(pids[0], 'apple')", PROMPT)).toMatch(/^10\s*$/m);
    expect(await s.line('Node.list().length', PROMPT)).toMatch(/^3\s*$/m);
    s.kill();
  });
});
