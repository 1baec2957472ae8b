// The wire codec: msgpackr with extensions for Pid and Ref, and record structures shared along
// each link (one Packr/Unpackr pair per connection, decoded in order). Validation of decoded frames.
import { Packr, Unpackr } from 'msgpackr';
import { wireOptions as options } from '../actors/codec.ts';
import { Pid, Ref } from '../actors/pid.ts';
import type { Signal } from '../actors/signals.ts';
import { SIGNAL_KINDS, type Wire } from './wire.ts';

/**
 * Marks the point where the sender started a fresh record-structure state (after it had to
 * refuse a message it had already encoded). A plain msgpack string any decoder can read.
 */
export const RESET_MARKER = '\u0000actorcluster:reset-structures';

/** Encoder for one direction of one link. */
export class Encoder {
  private packr = new Packr(options());
  private static readonly resetBytes = new Packr({ useRecords: false }).pack(RESET_MARKER);

  /** Encodes one wire message (the bytes stay valid: msgpackr does not reuse them). */
  encode(msg: Wire): Buffer {
    return this.packr.pack(msg);
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
