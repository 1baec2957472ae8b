// The outgoing bytes of one link: encoded messages are copied, in order, into large chunks, and
// taken out as frames of whole messages of at most frameBytesMax, usually without another copy.
import { RUN_HEADER_BYTES, RUN_MESSAGES_MAX } from './codec.ts';

/** Size of one chunk; a message larger than half of it gets a buffer of its own. */
const CHUNK_BYTES = 64 * 1024;
/** Messages up to this size are copied byte by byte (cheaper than a native copy call). */
const SMALL_COPY_BYTES = 48;

export class FrameQueue {
  private readonly frameBytesMax: number;
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  /** The open segment: `chunk[segmentStart, end)`, whole messages not yet taken. */
  private segmentStart = 0;
  private end = 0;
  /** Closed segments, in order, each at most frameBytesMax (or one message). */
  private segments: Buffer[] = [];
  /** Bytes queued (taken out by take()). */
  bytes = 0;
  /** The open run (compact sends to one process): where its count is, its key, its length. */
  private runAt = -1;
  private runId = -1;
  private runCreation = -1;
  private runCount = 0;

  constructor(frameBytesMax: number) {
    this.frameBytesMax = frameBytesMax;
  }

  /**
   * Queues one message: `head[0, headBytes)` then `body[start, end)`. A compact send (runId >= 0,
   * its head ending in a run header) to the process of the run just before it in the open
   * segment joins that run: only its body is copied, and the run's count grows.
   */
  append(
    head: Buffer,
    headBytes: number,
    body: Buffer,
    start: number,
    end: number,
    runId = -1,
    runCreation = -1,
  ): void {
    const size = headBytes + end - start;
    if (
      runId >= 0 &&
      this.runAt >= 0 &&
      runId === this.runId &&
      runCreation === this.runCreation &&
      this.runCount < RUN_MESSAGES_MAX
    ) {
      const bodyBytes = end - start;
      if (
        this.end + bodyBytes <= this.chunk.length &&
        this.end - this.segmentStart + bodyBytes <= this.frameBytesMax
      ) {
        this.copy(body, start, end);
        this.runCount++;
        this.chunk.writeUInt16BE(this.runCount, this.runAt + 1);
        this.bytes += bodyBytes;
        return;
      }
    }
    this.runAt = -1;
    this.bytes += size;
    if (size > CHUNK_BYTES / 2) {
      this.close();
      const own = Buffer.allocUnsafe(size);
      head.copy(own, 0, 0, headBytes);
      body.copy(own, headBytes, start, end);
      this.segments.push(own);
      return;
    }
    if (this.end - this.segmentStart + size > this.frameBytesMax) this.close();
    if (this.end + size > this.chunk.length) {
      this.close();
      // The old chunk stays alive only as long as frames cut from it.
      this.chunk = Buffer.allocUnsafe(CHUNK_BYTES);
      this.segmentStart = 0;
      this.end = 0;
    }
    const chunk = this.chunk;
    let at = this.end;
    for (let i = 0; i < headBytes; i++) chunk[at++] = head[i]!;
    this.end = at;
    this.copy(body, start, end);
    if (runId >= 0) {
      this.runAt = at - RUN_HEADER_BYTES;
      this.runId = runId;
      this.runCreation = runCreation;
      this.runCount = 1;
    }
  }

  private copy(body: Buffer, start: number, end: number): void {
    const chunk = this.chunk;
    let at = this.end;
    if (end - start <= SMALL_COPY_BYTES) for (let i = start; i < end; i++) chunk[at++] = body[i]!;
    else at += body.copy(chunk, at, start, end);
    this.end = at;
  }

  /**
   * Takes everything queued as frames of whole messages, each at most frameBytesMax (a single
   * message is never bigger: the link refuses those). Most turns give one frame, a view of the
   * chunk (the chunk's later bytes are written only after it, so the view stays valid).
   */
  take(): Buffer[] {
    this.close();
    const segments = this.segments;
    this.segments = [];
    this.bytes = 0;
    if (segments.length <= 1) return segments;
    const frames: Buffer[] = [];
    let group: Buffer[] = [];
    let groupBytes = 0;
    for (const segment of segments) {
      if (groupBytes + segment.length > this.frameBytesMax && group.length > 0) {
        frames.push(join(group, groupBytes));
        group = [];
        groupBytes = 0;
      }
      group.push(segment);
      groupBytes += segment.length;
    }
    if (group.length > 0) frames.push(join(group, groupBytes));
    return frames;
  }

  /** Drops everything queued. */
  clear(): void {
    this.runAt = -1;
    this.segments = [];
    this.segmentStart = this.end;
    this.bytes = 0;
  }

  /** Closes the open segment (if it holds anything). */
  private close(): void {
    this.runAt = -1;
    if (this.end === this.segmentStart) return;
    this.segments.push(this.chunk.subarray(this.segmentStart, this.end));
    this.segmentStart = this.end;
  }
}

const join = (parts: Buffer[], bytes: number): Buffer =>
  parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
