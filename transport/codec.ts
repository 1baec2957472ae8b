// The wire codec: msgpackr with extensions for Pid and Ref, and record structures shared along
// each link (one Packr/Unpackr pair per connection, decoded in order). Validation of decoded frames.
import { Packr, REUSE_BUFFER_MODE, Unpackr } from 'msgpackr';
import { wireOptions as options } from '../actors/codec.ts';
import { Pid, Ref } from '../actors/pid.ts';
import type { Signal } from '../actors/signals.ts';
import { SIGNAL_KINDS, type Wire } from './wire.ts';

/**
 * Marks the point where the sender started a fresh record-structure state (after it had to
 * refuse a message it had already encoded). A plain msgpack string any decoder can read.
 */
export const RESET_MARKER = '\u0000actorcluster:reset-structures';

/**
 * The hot message, a `send` to a process of the receiving node, travels as a msgpack array
 * instead of a record: `[id, msgs]` for a process of the peer's current incarnation, else
 * `[id, creation, msgs]`. The target's node is the receiver itself, so neither the node name
 * nor a Pid is encoded, decoded or allocated per message (every other message is a map).
 * `msgs` is written with a 16-bit count, so consecutive sends to one process in a frame become
 * one run (see FrameQueue): the receiver gets that process's messages as one decoded array.
 */
export type LocalSend =
  | [id: number, msgs: unknown[]]
  | [id: number, creation: number, msgs: unknown[]];

/** What a frame holds once decoded and validated. */
export type Arrival = Wire | LocalSend;

/** Process ids and creations written in the compact form (else the full form is used). */
const UINT32_MAX = 0xffff_ffff;
/** The msgpack array16 header of a run of messages (0xdc, then the count, big-endian). */
export const RUN_HEADER_BYTES = 3;
/** Messages in one run at most (the array16 count). */
export const RUN_MESSAGES_MAX = 0xffff;

/** Encoder for one direction of one link. */
export class Encoder {
  private packr = new Packr(options());
  private static readonly resetBytes = new Packr({ useRecords: false }).pack(RESET_MARKER);
  /** The bytes of the last encodeWire: `head[0, headBytes)` then `body[bodyStart, bodyEnd)`. */
  readonly head = Buffer.alloc(16);
  headBytes = 0;
  body: Buffer = Encoder.resetBytes;
  bodyStart = 0;
  bodyEnd = 0;
  /** For a compact send: the target process's id and creation (a run's key); else -1. */
  runId = -1;
  runCreation = -1;

  /** Encodes one wire message (the bytes stay valid: msgpackr does not reuse them). */
  encode(msg: Wire): Buffer {
    return this.packr.pack(msg);
  }

  /**
   * Encodes one message for a link to `peer` (incarnation `peerCreation`) and returns its size.
   * The bytes are valid only until the next call: the caller copies them into its frame (no
   * Buffer is allocated per message).
   */
  encodeWire(msg: Wire, peer: string, peerCreation: number): number {
    let head = 0;
    let value: unknown = msg;
    this.runId = -1;
    this.runCreation = -1;
    if (msg.kind === 'send' && msg.to.node === peer) {
      const { id, creation } = msg.to;
      if (Number.isInteger(id) && id >= 0 && id <= UINT32_MAX) {
        if (creation === peerCreation) {
          this.head[0] = 0x92;
          head = writeUint(this.head, 1, id);
        } else if (Number.isInteger(creation) && creation >= 0 && creation <= UINT32_MAX) {
          this.head[0] = 0x93;
          head = writeUint(this.head, writeUint(this.head, 1, id), creation);
        }
        if (head > 0) {
          // array16 of one message: FrameQueue counts further messages of a run in place.
          this.head[head] = 0xdc;
          this.head[head + 1] = 0;
          this.head[head + 2] = 1;
          head += RUN_HEADER_BYTES;
          value = msg.msg;
          this.runId = id;
          this.runCreation = creation;
        }
      }
    }
    const out = this.packr.pack(value, REUSE_BUFFER_MODE) as Buffer & {
      start: number;
      end: number;
    };
    this.headBytes = head;
    this.body = out;
    this.bodyStart = out.start;
    this.bodyEnd = out.end;
    return head + out.end - out.start;
  }

  /**
   * Starts a fresh structure state and returns the marker to send in place of a refused
   * message, so the decoder never sees a reference to a structure it was not sent.
   */
  reset(): Buffer {
    this.packr = new Packr(options());
    return Encoder.resetBytes;
  }
}

/**
 * Writes `n` (0..2^32-1) as a msgpack unsigned integer at `at`; returns the end. Only 0..63 are
 * written as positive fixints: with records on, msgpackr reads the bytes 0x40-0x7f as references
 * to record structures (and writes 64..127 as uint8 itself), so they take the 0xcc form here.
 */
function writeUint(buf: Buffer, at: number, n: number): number {
  if (n < 0x40) {
    buf[at] = n;
    return at + 1;
  }
  if (n < 0x100) {
    buf[at] = 0xcc;
    buf[at + 1] = n;
    return at + 2;
  }
  if (n < 0x10000) {
    buf[at] = 0xcd;
    buf.writeUInt16BE(n, at + 1);
    return at + 3;
  }
  buf[at] = 0xce;
  buf.writeUInt32BE(n, at + 1);
  return at + 5;
}

/** Decoder for one direction of one link. */
export class Decoder {
  private unpackr = new Unpackr(options());
  // State of the decode in progress (fields, not closures: this runs once per frame).
  private out: unknown[] = [];
  private resetAt = -1;
  private offset = 0;
  private readonly onValue = (value: unknown, _start?: number, end?: number): boolean => {
    if (value === RESET_MARKER) {
      this.resetAt = end ?? 0;
      return false; // stop: the rest uses fresh structures
    }
    this.out.push(value);
    return true;
  };

  /** Decodes every message in a frame, in order. Throws on malformed bytes. */
  decode(frame: Buffer): unknown[] {
    this.out = [];
    this.offset = 0;
    while (this.offset < frame.length) {
      this.resetAt = -1;
      this.unpackr.unpackMultiple(
        this.offset === 0 ? frame : frame.subarray(this.offset),
        this.onValue,
      );
      if (this.resetAt < 0) break;
      this.unpackr = new Unpackr(options());
      this.offset += this.resetAt;
    }
    return this.out;
  }
}

/** Structural check of a decoded compact send (see LocalSend). */
export function isLocalSend(value: unknown): value is LocalSend {
  if (!Array.isArray(value)) return false;
  const id = value[0];
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) return false;
  if (value.length === 2) return Array.isArray(value[1]);
  const creation = value[1];
  return (
    value.length === 3 &&
    typeof creation === 'number' &&
    Number.isInteger(creation) &&
    Array.isArray(value[2])
  );
}

/** A decoded message, compact or not; anything else makes the frame malformed. */
export function isArrival(value: unknown): value is Arrival {
  return Array.isArray(value) ? isLocalSend(value) : isWire(value);
}

const isPid = (v: unknown): v is Pid => v instanceof Pid;
const isRef = (v: unknown): v is Ref => v instanceof Ref;
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Structural check of a decoded message; anything else makes the frame malformed. */
export function isWire(value: unknown): value is Wire {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  switch (m.kind) {
    case 'send':
      return isPid(m.to) && 'msg' in m;
    case 'send_named':
      return isStr(m.name) && isStr(m.node) && 'msg' in m;
    case 'link':
    case 'unlink':
      return isPid(m.from) && isPid(m.to);
    case 'exit':
      return isPid(m.from) && isPid(m.to) && typeof m.link === 'boolean';
    case 'monitor':
    case 'demonitor':
      return isPid(m.from) && isPid(m.to) && isRef(m.ref);
    case 'down':
      return isPid(m.to) && isRef(m.ref) && isPid(m.pid);
    case 'reply':
      return isPid(m.to) && isRef(m.ref);
    case 'ping':
      return true;
    case 'peers':
      return Array.isArray(m.nodes) && m.nodes.every(isStr);
    case 'rpc':
      return Number.isInteger(m.id) && isStr(m.op);
    case 'rpc_reply':
      return Number.isInteger(m.id) && typeof m.ok === 'boolean';
    default:
      return false;
  }
}

export function isSignal(msg: Wire): msg is Signal {
  return SIGNAL_KINDS.has(msg.kind);
}
