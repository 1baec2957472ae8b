// Compact sends between real node processes: a process id in msgpackr's record range (64-127)
// must not be read as a record reference. Found by course:dist, whose coordinator's process ids
// reach 64 after about 60 runs: from then on every new node's link to it failed to decode
// ('Unexpected end of MessagePack data').
import { beforeAll, describe, expect, it } from 'vitest';
import { type Pid, receive, self, send, spawn } from '../../actors/index.ts';
import { type LaunchedNode, spawnOn } from '../../transport/index.ts';
import { expectMessage, startWithPeers } from './cluster-helpers.ts';

let b: LaunchedNode;

beforeAll(async () => {
  [b] = await startWithPeers('b');
});

/** Forwards what it receives to `to` as `{ got, by }`, forever. */
async function forward(to: Pid): Promise<void> {
  for (;;) send(to, { got: await receive(), by: self() });
}

describe('compact sends and process ids', () => {
  it('a remote node reaches local processes of ids 0-200 after its link defined 100 record shapes', async () => {
    const me = self();
    // Local processes up to id 200 at least (ids are given out in order).
    const targets: Pid[] = [];
    while (targets.length === 0 || targets[targets.length - 1]!.id < 200)
      targets.push(spawn(forward, me));
    const relay = await spawnOn(b.name, 'Fx.relay');
    // 100 objects of distinct shapes from b: record structures 0x40-0x7f (and around again)
    // are defined on b's link to this node.
    const sink = targets[0]!;
    for (let i = 0; i < 100; i++) send(relay, { to: sink, msg: { [`shape${i}`]: i } });
    for (let i = 0; i < 100; i++)
      expect(await expectMessage<{ got: unknown }>({ by: sink })).toEqual({
        got: { [`shape${i}`]: i },
        by: sink,
      });
    // Then one message to each target, sent by b as a compact send [id, [msg]].
    for (const to of targets) send(relay, { to, msg: { seq: to.id } });
    for (const to of targets)
      expect(await expectMessage<{ got: unknown }>({ by: to })).toEqual({
        got: { seq: to.id },
        by: to,
      });
  });
});
