// One authenticated WebSocket link to a peer node: batches every message of an event-loop turn
// into one frame, respects backpressure, decodes frames in order and applies fault rules.
import type WebSocket from 'ws';
import { ActorError } from '../actors/errors.ts';
import { type Arrival, Decoder, Encoder, isArrival, isSignal } from './codec.ts';
import type { LinkFaults } from './faults.ts';
import { FrameQueue } from './frames.ts';
import type { Wire } from './wire.ts';

/**
 * Test-only faults in the link itself (never set in shipping code): each restores a bug, so a
 * test can show that its check would catch it. 'drop-on-overflow': a message that would pass
 * queueBytesMax is dropped silently while the link stays up (the old behaviour).
 */
export type LinkMutation = 'drop-on-overflow';

export interface LinkLimits {
  /** Largest frame (and so largest single message) in bytes; the peer refuses bigger ones. */
  frameBytesMax: number;
  /** Stop writing to the socket while this many bytes are written but not yet flushed. */
  writeBytesHigh: number;
  /** A link whose queue would pass this fails (closed, the peer down): the bound on a slow peer. */
  queueBytesMax: number;
  /** Test only (see LinkMutation); read at each use, so a test may change the set it passed. */
  mutations?: ReadonlySet<LinkMutation>;
}

export interface LinkEvents {
  /** The messages of one frame, in order, validated (sends to local processes compact). */
  onFrame(link: Link, msgs: Arrival[]): void;
  onMalformed(link: Link, why: string): void;
  onClose(link: Link, why: string): void;
  onDropped(link: Link, bytes: number): void;
}

/**
 * Event-loop turns, counted by one shared setImmediate: a link that wrote a frame in turn N
 * collects the rest of turn N's messages into one more frame, written at the turn's end.
 */
let turn = 0;
let turnEndScheduled = false;
const endTurn = () => {
  turnEndScheduled = false;
  turn++;
};
function currentTurn(): number {
  if (!turnEndScheduled) {
    turnEndScheduled = true;
    setImmediate(endTurn);
  }
  return turn;
}

const BINARY = { binary: true } as const;

export class Link {
  readonly peer: string;
  readonly peerCreation: number;
  /** The node that dialed this connection (this one or the peer): duplicates are settled by it. */
  dialer = '';
  private readonly ws: WebSocket;
  private readonly limits: LinkLimits;
  private readonly events: LinkEvents;
  private readonly encoder = new Encoder();
  private readonly decoder = new Decoder();
  private readonly out: FrameQueue;
  private flushScheduled = false;
  /** The turn (see currentTurn) in which this link last wrote: later frames wait for its end. */
  private flushedTurn = -1;
  private writingBytes = 0;
  private readonly flushNow = () => this.flush();
  /** Frames held back by a delay fault, in order, with the time each may go. */
  private delayed: Array<{ frame: Buffer; atMs: number }> = [];
  private delayTimer: NodeJS.Timeout | null = null;
  private lastReleaseMs = 0;
  faults: LinkFaults | null = null;
  random: () => number = Math.random;
  lastHeardMs: number;
  lastSentMs: number;
  closed = false;
  /** Counters for metrics and benchmarks. */
  readonly stats = {
    framesOut: 0,
    framesIn: 0,
    msgsOut: 0,
    msgsIn: 0,
    bytesOut: 0,
    bytesIn: 0,
    /** Messages by kind (send, link, exit, ping, ...), each way. */
    kindsOut: {} as Record<string, number>,
    kindsIn: {} as Record<string, number>,
  };
  /** Heartbeat intervals already counted as missed since this link last heard its peer. */
  missedCounted = 0;

  constructor(
    ws: WebSocket,
    peer: string,
    peerCreation: number,
    limits: LinkLimits,
    events: LinkEvents,
  ) {
    this.ws = ws;
    this.peer = peer;
    this.peerCreation = peerCreation;
    this.limits = limits;
    this.events = events;
    this.out = new FrameQueue(limits.frameBytesMax);
    this.lastHeardMs = performance.now();
    this.lastSentMs = this.lastHeardMs;
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
    ws.on('close', (code, reason) =>
      this.closedBy(`closed (${code}${reason.length ? ` ${reason.toString()}` : ''})`),
    );
    ws.on('error', (err) => this.closedBy(`socket error: ${err.message}`));
  }

  /**
   * Queues a message for this turn's frame. Throws `too_large` if it cannot fit in a frame
   * (nothing is sent then, and the link stays usable).
   */
  send(msg: Wire): void {
    if (this.closed) return;
    const faults = this.faults;
    if (faults !== null) {
      if (faults.partitioned) return;
      if (isSignal(msg)) {
        if (faults.dropP > 0 && this.random() < faults.dropP) return;
        if (faults.dupP > 0 && this.random() < faults.dupP) this.enqueue(msg);
      }
    }
    this.enqueue(msg);
  }

  private enqueue(msg: Wire): void {
    const encoder = this.encoder;
    const size = encoder.encodeWire(msg, this.peer, this.peerCreation);
    if (size > this.limits.frameBytesMax) {
      // The refused message may carry record definitions: restart the structures on both ends.
      const marker = this.encoder.reset();
      this.out.append(marker, 0, marker, 0, marker.length);
      this.scheduleFlush();
      throw new ActorError(
        'too_large',
        `a message of ${size} bytes is over the ${this.limits.frameBytesMax}-byte frame limit to ${this.peer}`,
      );
    }
    if (this.out.bytes + size > this.limits.queueBytesMax) {
      // The peer does not keep up. Dropping this message (an EXIT, a DOWN, a reply) while the
      // link stays up would leave monitors and callers waiting forever: the link fails instead,
      // and the node is down for this side (noconnection, DOWN, nodedown), as after a cut.
      this.events.onDropped(this, size);
      if (this.limits.mutations?.has('drop-on-overflow')) return;
      this.close(
        1013,
        `send queue over ${this.limits.queueBytesMax} bytes: the peer is not reading`,
      );
      return;
    }
    this.out.append(
      encoder.head,
      encoder.headBytes,
      encoder.body,
      encoder.bodyStart,
      encoder.bodyEnd,
      encoder.runId,
      encoder.runCreation,
    );
    this.stats.msgsOut++;
    const kinds = this.stats.kindsOut;
    if (msg.kind === 'send')
      kinds.send = (kinds.send ?? 0) + 1; // a named access: this one is hot
    else kinds[msg.kind] = (kinds[msg.kind] ?? 0) + 1;
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // The first frame of a turn leaves as soon as the current code yields (low latency); a
    // link already written this turn collects the rest of the turn's messages into one frame.
    if (this.flushedTurn === turn && turnEndScheduled) setImmediate(this.flushNow);
    else queueMicrotask(this.flushNow);
  }

  /** Writes what is queued as frames of at most frameBytesMax, unless the socket is backed up. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.out.bytes === 0) return;
    this.flushedTurn = currentTurn();
    if (this.writingBytes > this.limits.writeBytesHigh) return; // resumed from a write callback
    for (const frame of this.out.take()) this.write(frame);
  }

  private write(frame: Buffer): void {
    const faults = this.faults;
    if (faults !== null && (faults.delayMs > 0 || faults.jitterMs > 0)) {
      const jitter = faults.jitterMs * (this.random() * 2 - 1);
      const atMs = Math.max(
        this.lastReleaseMs,
        performance.now() + Math.max(0, faults.delayMs + jitter),
      );
      this.lastReleaseMs = atMs;
      this.delayed.push({ frame, atMs });
      this.scheduleDelayed();
      return;
    }
    this.writeNow(frame);
  }

  private scheduleDelayed(): void {
    if (this.delayTimer !== null || this.delayed.length === 0) return;
    const waitMs = Math.max(0, this.delayed[0]!.atMs - performance.now());
    this.delayTimer = setTimeout(() => {
      this.delayTimer = null;
      const now = performance.now();
      while (this.delayed.length > 0 && this.delayed[0]!.atMs <= now + 0.5)
        this.writeNow(this.delayed.shift()!.frame);
      this.scheduleDelayed();
    }, waitMs);
  }

  private writeNow(frame: Buffer): void {
    if (this.closed) return;
    if (this.faults?.partitioned) return;
    this.writingBytes += frame.length;
    this.stats.framesOut++;
    this.stats.bytesOut += frame.length;
    this.lastSentMs = performance.now();
    this.ws.send(frame, BINARY, () => {
      this.writingBytes -= frame.length;
      if (
        this.out.bytes > 0 &&
        !this.flushScheduled &&
        this.writingBytes <= this.limits.writeBytesHigh
      ) {
        this.flushScheduled = true;
        setImmediate(this.flushNow);
      }
    });
  }

  /** Frames that arrived while the handshake was finishing, handled before any later one. */
  receiveEarly(frames: Array<{ data: Buffer; isBinary: boolean }>): void {
    for (const f of frames) this.receive(f.data, f.isBinary);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closed) return;
    this.lastHeardMs = performance.now();
    if (!isBinary) {
      this.events.onMalformed(this, 'text frame');
      return;
    }
    this.stats.framesIn++;
    this.stats.bytesIn += data.length;
    let values: unknown[];
    try {
      values = this.decoder.decode(data);
    } catch (err) {
      this.events.onMalformed(this, `undecodable frame: ${(err as Error).message}`);
      return;
    }
    const kinds = this.stats.kindsIn;
    let sends = 0;
    let others = 0;
    for (const value of values) {
      if (!isArrival(value)) {
        this.events.onMalformed(this, 'unknown message in frame');
        return;
      }
      if (Array.isArray(value)) sends += (value[value.length - 1] as unknown[]).length;
      else {
        others++;
        kinds[value.kind] = (kinds[value.kind] ?? 0) + 1;
      }
    }
    if (sends > 0) kinds.send = (kinds.send ?? 0) + sends;
    this.stats.msgsIn += sends + others;
    this.events.onFrame(this, values as Arrival[]);
  }

  /** Closes the link; queued and delayed frames are dropped. */
  close(code: number, why: string): void {
    if (this.closed) return;
    try {
      this.ws.close(code, why.slice(0, 120));
    } catch {
      this.ws.terminate();
    }
    this.closedBy(why);
  }

  private closedBy(why: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.delayTimer) clearTimeout(this.delayTimer);
    this.delayed = [];
    this.out.clear();
    // A peer that stopped reading must not keep the socket (and its buffers) around.
    setTimeout(() => this.ws.terminate(), 1000).unref();
    this.events.onClose(this, why);
  }
}
