// Issue 13 (b): a link whose send queue overflows (a peer that stopped reading) fails as a link:
// the node is down for this side (noconnection, DOWN, nodedown), rather than dropping signals
// silently while the link stays up and monitors wait forever.
import { expect, it } from 'vitest';
import { monitor, receive, self, send, TIMEOUT } from '../../actors/index.ts';
import { Node, spawnOn } from '../../transport/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { COOKIE, expectMessage, launch } from './cluster-helpers.ts';

it('a peer that stops reading: the overflowing link goes down and monitors get DOWN', async () => {
  // Node-down detection by heartbeats is set far away (2 min): only the overflow can end this.
  const slow = { heartbeatIntervalMs: 1000, nodeDownAfterMs: 120_000 };
  await Node.start({ name: 't', cookie: COOKIE, ...slow, queueBytesMax: 256 * 1024 });
  const b = await launch('b', slow);
  const idle = await spawnOn(b.name, 'Fx.idle');
  const ref = monitor(idle);
  Node.monitor(b.name);
  b.kill('SIGSTOP'); // b's socket buffers fill; then this node's send queue
  const payload = 'x'.repeat(1024);
  let down: unknown = TIMEOUT;
  const deadline = performance.now() + scaledMs(30_000);
  for (let i = 0; down === TIMEOUT && performance.now() < deadline; i++) {
    for (let j = 0; j < 100; j++) send(idle, { i, j, payload });
    down = await receive({ type: 'DOWN', ref }, 1);
  }
  b.kill('SIGCONT');
  expect(down, 'no DOWN within 30 s: the overflow was dropped silently').toMatchObject({
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
