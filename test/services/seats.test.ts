import { afterEach, describe, expect, it } from 'vitest';
import { ActorError, Global, isAlive, kill } from '../../actors/index.ts';
import { SeatReserve } from '../../apps/seats/index.ts';
import { resetRuntime, until } from '../helpers.ts';

afterEach(resetRuntime);

let group = 0;
function hall() {
  group++;
  const names = [`h${group}s1`, `h${group}s2`, `h${group}s3`];
  return { names, srs: names.map((s) => SeatReserve.start(s, names)) };
}

describe('SeatReserve (replicas in one process)', () => {
  it('the same seat reserved at three replicas at once: one winner, the others see the holder', async () => {
    const { srs } = hall();
    for (let seat = 1; seat <= 10; seat++) {
      const results = await Promise.all(
        srs.map((s, i) => SeatReserve.reserve(s, 3, seat, `user${i}`)),
      );
      const winners = results.filter((r) => r.ok);
      expect(winners).toHaveLength(1);
      const holder = (winners[0] as { holder: string }).holder;
      for (const r of results.filter((x) => !x.ok))
        expect(r).toEqual({ ok: false, error: 'taken', row: 3, seat, holder });
      for (const s of srs)
        expect(await SeatReserve.getStatus(s, 3, seat)).toEqual({ status: 'taken', holder });
    }
    const all = await SeatReserve.getStatusAll(srs[1]!);
    expect(all).toHaveLength(10);
    expect(all[2]!.every((h) => h !== null)).toBe(true);
    expect(all[0]!.every((h) => h === null)).toBe(true);
    expect(await SeatReserve.getStatus(srs[0]!, 1, 1)).toEqual({ status: 'free' });
  });

  it('a seat outside the hall, a bad user or an unknown server rejects with a typed error', async () => {
    const { srs } = hall();
    for (const [row, seat] of [
      [0, 1],
      [1, 11],
      [1.5, 2],
    ] as const) {
      await expect(SeatReserve.reserve(srs[0]!, row, seat, 'ada')).rejects.toMatchObject({
        code: 'invalid_argument',
        message: expect.stringMatching(/no seat/),
      });
    }
    await expect(SeatReserve.reserve(srs[0]!, 1, 2, '')).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    await expect(SeatReserve.reserve('nobody', 1, 2, 'ada')).rejects.toBeInstanceOf(ActorError);
    await expect(SeatReserve.getStatus(srs[0]!, 11, 1)).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/no seat/),
    });
    // nothing was reserved by the refused calls
    expect((await SeatReserve.getStatusAll(srs[0]!)).flat().filter((h) => h !== null)).toEqual([]);
    // Reserving your own seat again is fine; a retry of a request gets its first answer.
    expect(await SeatReserve.reserve(srs[1]!, 5, 5, 'ada', { reqId: 'r1' })).toMatchObject({
      ok: true,
    });
    expect(await SeatReserve.reserve(srs[2]!, 5, 5, 'ada')).toMatchObject({ ok: true });
    expect(await SeatReserve.reserve(srs[2]!, 5, 5, 'bob', { reqId: 'r1' })).toMatchObject({
      ok: true,
      holder: 'ada',
    });
  });

  it('a replica killed: the others still serve, and agree', async () => {
    const { names, srs } = hall();
    expect(await SeatReserve.reserve(srs[0]!, 2, 2, 'ada')).toMatchObject({ ok: true });
    kill(srs[0]!);
    await until(() => !isAlive(srs[0]!) && Global.whereis(`seats:${names[0]}`) === undefined);
    expect(await SeatReserve.reserve(srs[1]!, 2, 3, 'bob')).toMatchObject({ ok: true });
    expect(await SeatReserve.reserve(srs[2]!, 2, 3, 'cy')).toMatchObject({
      error: 'taken',
      holder: 'bob',
    });
    expect(await SeatReserve.getStatusAll(srs[2]!)).toEqual(
      await SeatReserve.getStatusAll(srs[1]!),
    );
    expect((await SeatReserve.getStatusAll(srs[1]!))[1]!.slice(0, 3)).toEqual([null, 'ada', 'bob']);
  });
});
