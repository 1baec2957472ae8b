// Log formats and the Paxos trace mode, as a user running a node would see them.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { scaledMs } from '../../transport/timeouts.ts';

function run(env: Record<string, string>): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'test/observe/trace-fixture.ts'], {
    encoding: 'utf8',
    env: { ...process.env, VITEST: '', ...env },
    timeout: scaledMs(30_000),
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stderr;
}

describe('logs', () => {
  it('ACTORCLUSTER_TRACE=paxos logs every Paxos message with structured fields (JSON off a terminal)', () => {
    const lines = run({ ACTORCLUSTER_TRACE: 'paxos', LOG_LEVEL: 'info' })
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const paxos = lines.filter((l) => typeof l.type === 'string' && 'inst' in l);
    const types = new Set(paxos.map((l) => l.type));
    for (const t of ['prepare', 'promise', 'accept', 'accepted', 'chosen'])
      expect(types).toContain(t);
    const prepare = paxos.find((l) => l.type === 'prepare')!;
    expect(prepare).toMatchObject({ node: 'nonode', inst: 0, level: 30 });
    expect(prepare.ballot).toMatch(/^\d+\.inventory:t\d\/paxos$/);
    expect(prepare.participant).toMatch(/^inventory:t\d\/paxos$/);
  });

  it('without the trace mode there are no Paxos lines; LOG_FORMAT=pretty gives readable lines', () => {
    expect(run({ LOG_LEVEL: 'info' })).not.toContain('paxos prepare');
    const pretty = run({ ACTORCLUSTER_TRACE: 'paxos', LOG_LEVEL: 'info', LOG_FORMAT: 'pretty' });
    expect(pretty).toMatch(
      /INFO.*paxos prepare inventory:t\d\/paxos -> inventory:t\d\/paxos inst 0/,
    );
    expect(pretty).not.toMatch(/^\{/m);
  });
});
