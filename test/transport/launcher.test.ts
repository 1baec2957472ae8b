// The launcher's stop: SIGTERM, and a node that does not exit is killed after a grace period,
// so that no harness (LocalCluster, chaos, the tests) waits forever on a stuck node.
import { describe, expect, it } from 'vitest';
import { launchNode } from '../../transport/index.ts';
import { captureLogs } from '../helpers.ts';

const cookie = 'launcher-test';

describe('launchNode(...).stop()', () => {
  // The launcher resolves as soon as the node prints that it is up. The node's SIGTERM handler
  // used to be installed just after that line: a stop at once then found none, and the default
  // action killed the node (exit by signal, links not closed), 18 times in 30 here.
  it('a node exits on SIGTERM with code 0, even at once after it is up (10 in a row)', async () => {
    for (let i = 0; i < 10; i++) {
      const node = await launchNode({ name: `calm${i}`, cookie });
      expect(await node.stop(), `node ${i}: ${node.output()}`).toBe(0);
      // Stopping it again is a no-op.
      expect(await node.stop()).toBe(0);
    }
  });

  // The same, deterministic: the handler is there before the node loads its modules.
  it('a node handles SIGTERM from before it starts', async () => {
    const node = await launchNode({
      name: 'probe',
      cookie,
      load: ['Probe=test/fixtures/launcher/sigterm-probe.ts'],
    });
    expect(node.output()).toContain('SIGTERM handled at load: true');
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
