// The launcher's stop: SIGTERM, and a node that does not exit is killed after a grace period,
// so that no harness (LocalCluster, chaos, the tests) waits forever on a stuck node.
import { describe, expect, it } from 'vitest';
import { launchNode } from '../../transport/index.ts';
import { captureLogs } from '../helpers.ts';

const cookie = 'launcher-test';

describe('launchNode(...).stop()', () => {
  it('a node exits on SIGTERM with code 0', async () => {
    const node = await launchNode({ name: 'calm', cookie });
    expect(await node.stop()).toBe(0);
    // Stopping it again is a no-op.
    expect(await node.stop()).toBe(0);
  });

  it('a node still up after the grace period is killed, with a warning', async () => {
    const node = await launchNode({
      name: 'stuck',
      cookie,
      load: ['NoExit=test/fixtures/launcher/no-exit.ts'],
    });
    const { lines, result: code } = await captureLogs(() => node.stop(300));
    expect(code).toBeNull(); // killed by a signal
    await expect(node.exited).resolves.toBeNull();
    expect(lines.some((l) => String(l.msg).includes('did not exit within its grace period'))).toBe(
      true,
    );
  });
});
