// The replica's actor shell (apps/rsm/replica.ts) around the core, end to end in one process:
// a replica started late catches up from a snapshot sent in many small chunks.
import { afterEach, describe, expect, it } from 'vitest';
import { Global } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { resetRuntime, waitUntil } from '../helpers.ts';

afterEach(resetRuntime);

describe('replica shell', () => {
  it('a late replica adopts a snapshot sent in many 64-byte chunks, then serves reads', async () => {
    const procs = ['chunk-a', 'chunk-b', 'chunk-c'];
    // A 64-byte chunk: the snapshot (60 items, 60 remembered results) is well over 50 chunks.
    const options = { snapshotEvery: 10, snapshotChunkBytes: 64 };
    const [a, b] = procs.slice(0, 2).map((p) => InventoryServer.start(p, procs, options));
    await waitUntil(
      () => procs.slice(0, 2).every((p) => Global.whereis(`inventory:${p}`) !== undefined),
      'the first two replicas to be ready',
      10_000,
    );
    const expected: Record<string, number> = {};
    for (let i = 0; i < 60; i++) {
      await InventoryServer.add(i % 2 ? a! : b!, `item-${i}`, i + 1, { reqId: `late-${i}` });
      expected[`item-${i}`] = i + 1;
    }
    const ahead = await InventoryServer.status(a!);
    expect(ahead.snapshotAt).toBeGreaterThan(0);
    const c = InventoryServer.start(procs[2]!, procs, options);
    await waitUntil(
      async () => (await InventoryServer.status(c)).ready,
      'the late replica to catch up',
      10_000,
    );
    const caught = await InventoryServer.status(c);
    expect(caught.snapshotAt).toBeGreaterThanOrEqual(ahead.snapshotAt);
    expect(caught.applied).toBeGreaterThanOrEqual(ahead.snapshotAt);
    expect(await InventoryServer.view(c)).toEqual(expected);
    // The adopted results are there: a retry of the first write is answered, not applied again.
    expect(await InventoryServer.add(c, 'item-0', 1, { reqId: 'late-0' })).toEqual({
      ok: true,
      stock: { 'item-0': 1 },
    });
    expect(await InventoryServer.get(c, 'item-0')).toBe(1);
  });
});
