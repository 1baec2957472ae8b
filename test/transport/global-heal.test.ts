// Issue 12: global names converge after any heal. A one-way cut longer than the node-down
// timeout makes the other side drop the cut node's names (nodedown); the sync sent when the link
// comes back may itself go out over the cut direction and be lost. After the heal every node
// must know every name again.
import { describe, expect, it } from 'vitest';
import { Global, self, spawn } from '../../actors/index.ts';
import { Faults, Node, spawnOn } from '../../transport/index.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { DOWN_AFTER_MS, expectMessage, startWithPeers } from './cluster-helpers.ts';
import { holdGlobal } from './fixtures.ts';

describe('global names after a one-way cut', () => {
  it('are learned again in both directions once the cut heals', async () => {
    const [b] = await startWithPeers('b');
    await spawnOn(b.name, 'Fx.holdGlobal', ['on-b', self()]);
    expect(await expectMessage({ registered: 'on-b' })).toMatchObject({ ok: true });
    spawn(holdGlobal, 'on-t', self());
    expect(await expectMessage({ registered: 'on-t' })).toMatchObject({ ok: true });
    await expect.poll(() => Global.whereis('on-b') !== undefined).toBe(true);
    Node.monitor(b.name);
    // b's frames to this node are dropped; this node's frames to b still go through
    // (b's reply to this very request is cut too: the call fails when the link goes down)
    void Faults.partition(b.name, Node.self(), { oneWay: true }).catch(() => {});
    await expectMessage({ type: 'nodedown', node: b.name }, scaledMs(DOWN_AFTER_MS * 10));
    expect(Global.whereis('on-b')).toBeUndefined(); // released with the node
    // Keep the cut for a while: the links redialled meanwhile sync over the cut direction.
    const cutUntil = performance.now() + DOWN_AFTER_MS * 3;
    await expect
      .poll(() => performance.now() > cutUntil, { timeout: scaledMs(DOWN_AFTER_MS * 6) })
      .toBe(true);
    // The heal is an rpc to b, whose replies are cut: it may fail while the link flaps. Retry.
    await expect
      .poll(
        () =>
          Faults.heal(b.name, Node.self()).then(
            () => true,
            () => false,
          ),
        {
          timeout: scaledMs(15_000),
        },
      )
      .toBe(true);
    await expect
      .poll(() => Global.whereis('on-b') !== undefined, { timeout: scaledMs(15_000) })
      .toBe(true);
    // and b knows this node's name again too
    await expect
      .poll(
        async () => {
          const ok = await spawnOn(b.name, 'Fx.reportGlobal', ['on-t', self()]).then(
            () => true,
            () => false,
          );
          if (!ok) return false;
          const m = await expectMessage<{ whereis: string | null }>({ global: 'on-t' });
          return m.whereis !== null;
        },
        { timeout: scaledMs(15_000) },
      )
      .toBe(true);
  }, 90_000);
});
