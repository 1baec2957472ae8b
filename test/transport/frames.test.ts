// The link's wire format and frame assembly in one process: compact sends, their runs and their
// fallbacks, frames of whole messages within frameBytesMax, and a structure reset mid-frame.
import { describe, expect, it } from 'vitest';
import { Pid } from '../../actors/pid.ts';
import { type Arrival, Decoder, Encoder, isArrival } from '../../transport/codec.ts';
import { FrameQueue } from '../../transport/frames.ts';
import type { Wire } from '../../transport/wire.ts';

const PEER = 'b@127.0.0.1:2';
const PEER_CREATION = 77;

/** Queues `msg` as a link to PEER would. */
function add(queue: FrameQueue, encoder: Encoder, msg: Wire): void {
  encoder.encodeWire(msg, PEER, PEER_CREATION);
  const e = encoder;
  queue.append(e.head, e.headBytes, e.body, e.bodyStart, e.bodyEnd, e.runId, e.runCreation);
}

/** Encodes `msgs` into frames of at most `frameBytesMax`. */
function frames(msgs: Wire[], frameBytesMax = 1 << 20): Buffer[] {
  const queue = new FrameQueue(frameBytesMax);
  const encoder = new Encoder();
  for (const msg of msgs) add(queue, encoder, msg);
  return queue.take();
}

function decodeAll(bufs: Buffer[], decoder = new Decoder()): Arrival[] {
  const out = bufs.flatMap((f) => decoder.decode(f));
  for (const v of out) expect(isArrival(v)).toBe(true);
  return out as Arrival[];
}

/** The messages in decoded order, a run's one by one, as [target id, msg]. */
function flatten(arrivals: Arrival[]): Array<[number | string, unknown]> {
  return arrivals.flatMap((a): Array<[number | string, unknown]> => {
    if (Array.isArray(a)) return (a[a.length - 1] as unknown[]).map((m) => [a[0], m]);
    return [[a.kind, a.kind === 'send' ? a.msg : a.kind === 'rpc' ? a.args : null]];
  });
}

describe('compact sends', () => {
  it('sends to the peer travel as [id, msgs] (or [id, creation, msgs]), one run per process', () => {
    const now = (id: number) => new Pid(PEER, id, PEER_CREATION);
    const msgs: Wire[] = [
      { kind: 'send', to: now(5), msg: { a: 1 } },
      { kind: 'send', to: now(5), msg: { a: 2 } },
      { kind: 'send', to: now(5), msg: 3 },
      { kind: 'send', to: new Pid(PEER, 70_000, 3), msg: 'old' },
      { kind: 'send', to: new Pid(PEER, 70_000, 3), msg: 'old2' },
      { kind: 'send', to: now(5), msg: 4 },
      { kind: 'send', to: new Pid('c@127.0.0.1:3', 5, 1), msg: 'elsewhere' },
      { kind: 'send', to: now(5), msg: 5 },
      { kind: 'ping' },
      { kind: 'send', to: now(5), msg: 6 },
    ];
    const got = decodeAll(frames(msgs));
    expect(got.slice(0, 4)).toEqual([
      [5, [{ a: 1 }, { a: 2 }, 3]],
      [70_000, 3, ['old', 'old2']],
      [5, [4]],
      expect.objectContaining({ kind: 'send', msg: 'elsewhere' }),
    ]);
    expect((got[3] as { to: Pid }).to.equals(new Pid('c@127.0.0.1:3', 5, 1))).toBe(true);
    expect(got.slice(4)).toEqual([[5, [5]], { kind: 'ping' }, [5, [6]]]);
  });

  it('a long run is cut (at chunk ends, at most 65535 messages) and goes on in the next', () => {
    const to = new Pid(PEER, 1, PEER_CREATION);
    const msgs: Wire[] = Array.from({ length: 70_000 }, (_, i) => ({ kind: 'send', to, msg: i }));
    const got = decodeAll(frames(msgs));
    const runs = got.map((a) => (a as [number, unknown[]])[1].length);
    expect(runs.length).toBeGreaterThan(1);
    for (const n of runs) expect(n).toBeLessThanOrEqual(65_535);
    expect(flatten(got).map(([, m]) => m)).toEqual(msgs.map((_, i) => i));
  });

  it('ids and creations in the record range (64-127) are not read as record references', () => {
    // With records on, msgpackr reads 0x40-0x7f as a reference to a defined structure: a
    // header written as a positive fixint there decoded as that record (or failed to decode).
    const encoder = new Encoder();
    const queue = new FrameQueue(1 << 20);
    for (let i = 0; i < 100; i++)
      add(queue, encoder, { kind: 'rpc', id: i, op: 'x', args: { [`k${i}`]: i } });
    const msgs: Wire[] = [];
    for (let n = 0; n < 300; n++) {
      msgs.push({ kind: 'send', to: new Pid(PEER, n, PEER_CREATION), msg: n });
      msgs.push({ kind: 'send', to: new Pid(PEER, n, n), msg: n + 1000 });
    }
    for (const msg of msgs) add(queue, encoder, msg);
    const got = decodeAll(queue.take()).slice(100);
    // Creation 77 is the peer's: that message joins the run before it.
    expect(got).toEqual(
      Array.from({ length: 300 }, (_, n) =>
        n === PEER_CREATION
          ? [[n, [n, n + 1000]]]
          : [
              [n, [n]],
              [n, n, [n + 1000]],
            ],
      ).flat(),
    );
  });

  it('arrays that are not compact sends are malformed', () => {
    for (const bad of [[], [1], ['x', []], [-1, []], [1.5, []], [1, 'c', []], [1, 2], [1, 2, 3]])
      expect(isArrival(bad)).toBe(false);
  });
});

describe('frame assembly', () => {
  it('many messages keep their order, split into frames of whole messages within the limit', () => {
    const msgs: Wire[] = Array.from({ length: 5000 }, (_, i) => ({
      kind: 'send',
      to: new Pid(PEER, 1 + (Math.floor(i / 7) % 3), PEER_CREATION),
      msg: { i, pad: 'x'.repeat(i % 200) },
    }));
    // Big ones (own buffers) in between.
    msgs.splice(100, 0, { kind: 'send', to: new Pid(PEER, 9, 1), msg: 'y'.repeat(50_000) });
    msgs.splice(3000, 0, { kind: 'rpc', id: 1, op: 'x', args: 'z'.repeat(40_000) });
    const out = frames(msgs, 60_000);
    expect(out.length).toBeGreaterThan(10);
    for (const f of out) expect(f.length).toBeLessThanOrEqual(60_000);
    const want = msgs.map((m): [number | string, unknown] =>
      m.kind === 'send' ? [m.to.id, m.msg] : [m.kind, m.kind === 'rpc' ? m.args : null],
    );
    expect(flatten(decodeAll(out))).toEqual(want);
  });

  it('after a structure reset mid-frame the rest decodes with fresh structures', () => {
    const encoder = new Encoder();
    const queue = new FrameQueue(1 << 20);
    const to = new Pid(PEER, 4, PEER_CREATION);
    add(queue, encoder, { kind: 'send', to, msg: { shape: 1, of: 2 } });
    encoder.encodeWire({ kind: 'send', to, msg: { refused: 'x' } }, PEER, PEER_CREATION);
    const marker = encoder.reset();
    queue.append(marker, 0, marker, 0, marker.length);
    add(queue, encoder, { kind: 'send', to, msg: { other: 3 } });
    add(queue, encoder, { kind: 'send', to, msg: { shape: 4, of: 5 } });
    expect(decodeAll(queue.take())).toEqual([
      [4, [{ shape: 1, of: 2 }]],
      [4, [{ other: 3 }, { shape: 4, of: 5 }]],
    ]);
  });
});
