// Issue 13 (b): a link whose send queue overflows (a peer that stopped reading) fails as a link:
// the node is down for this side (noconnection, DOWN, nodedown), rather than dropping signals
// silently while the link stays up and monitors wait forever.
import { beforeAll, expect, it } from 'vitest';
import { monitor, type Pid, type Ref, receive, self, send, TIMEOUT } from '../../actors/index.ts';
import { Node, spawnOn } from '../../transport/index.ts';
import type { LinkMutation } from '../../transport/link.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { barrier, captureLogs } from '../helpers.ts';
import { COOKIE, expectMessage, launch } from './cluster-helpers.ts';

// Node-down detection by heartbeats is set far away (2 min): only the overflow can end a link.
const slow = { heartbeatIntervalMs: 1000, nodeDownAfterMs: 120_000 };
/** Test-only mutations of this node's links; empty but for the test that restores the old bug. */
const mutations = new Set<LinkMutation>();

beforeAll(async () => {
  await Node.start({ name: 't', cookie: COOKIE, ...slow, queueBytesMax: 256 * 1024, mutations });
});

/**
 * Sends to `idle` (on a stopped node) until this node's queue to it overflows; resolves to the
 * DOWN of monitor `ref` if it came by then (TIMEOUT otherwise).
 */
async function floodUntilOverflow(idle: Pid, ref: Ref): Promise<unknown> {
  const { result } = await captureLogs(async (lines) => {
    const overflowed = () => lines.some((l) => String(l.msg).startsWith('link queue full'));
    const payload = 'x'.repeat(1024);
    const deadline = performance.now() + scaledMs(30_000);
    let down: unknown = TIMEOUT;
    for (let i = 0; down === TIMEOUT && !overflowed() && performance.now() < deadline; i++) {
      for (let j = 0; j < 100; j++) send(idle, { i, j, payload });
      down = await receive({ type: 'DOWN', ref }, 1);
    }
    if (down !== TIMEOUT) return down;
    await barrier(); // a DOWN raised by the overflow is in the mailbox after this
    return receive({ type: 'DOWN', ref }, 0);
  });
  return result;
}

it('a peer that stops reading: the overflowing link goes down and monitors get DOWN', async () => {
  const b = await launch('b', slow);
  const idle = await spawnOn(b.name, 'Fx.idle');
  const ref = monitor(idle);
  Node.monitor(b.name);
  b.kill('SIGSTOP'); // b's socket buffers fill; then this node's send queue
  const down = await floodUntilOverflow(idle, ref);
  b.kill('SIGCONT');
  expect(down, 'no DOWN at the overflow: it was dropped silently').toMatchObject({
    type: 'DOWN',
    reason: 'noconnection',
  });
  await expectMessage({ type: 'nodedown', node: b.name });
  // the link comes back once b reads again (b first works through its backlog), and works
  await expect.poll(() => Node.connect(b.name), { timeout: scaledMs(20_000) }).toBe(true);
  await expect
    .poll(
      async () => {
        const echo = await spawnOn(b.name, 'Fx.echo').catch(() => null);
        if (!echo) return false;
        send(echo, { from: self(), msg: 'after' });
        return (await receive({ echo: 'after' }, 5000)) !== TIMEOUT;
      },
      { timeout: scaledMs(40_000) },
    )
    .toBe(true);
}, 120_000);

it('the check catches the old bug: with drop-on-overflow the monitor is never told', async () => {
  const c = await launch('c', slow);
  const idle = await spawnOn(c.name, 'Fx.idle');
  const ref = monitor(idle);
  mutations.add('drop-on-overflow');
  try {
    c.kill('SIGSTOP');
    const down = await floodUntilOverflow(idle, ref);
    c.kill('SIGCONT');
    // The same scenario as above, with the old silent drop: no DOWN, and the link stays up,
    // so the test above (which expects the DOWN) would fail on this bug.
    expect(down).toBe(TIMEOUT);
    expect(Node.list()).toContain(c.name);
  } finally {
    mutations.delete('drop-on-overflow');
    c.kill('SIGCONT');
    Node.expectDown(c.name);
    c.kill('SIGKILL');
  }
}, 120_000);
