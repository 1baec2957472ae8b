// The connection handshake: names, protocol version and mutual cookie authentication by
// challenge/response (HMAC-SHA256 over fresh nonces and both names; the cookie never travels).
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { pack, unpack } from 'msgpackr';

/** Bumped whenever the wire format changes; peers of another version are refused. */
export const PROTOCOL_VERSION = 2;

/** A handshake frame is small; anything bigger before authentication is refused. */
export const HANDSHAKE_FRAME_BYTES_MAX = 1024;

export type Hello = { h: 'hello'; v: number; name: string; creation: number; nonce: Buffer };
export type Challenge = {
  h: 'challenge';
  v: number;
  name: string;
  creation: number;
  nonce: Buffer;
  proof: Buffer;
};
export type Proof = { h: 'proof'; proof: Buffer };
export type Welcome = { h: 'welcome' };
export type Refuse = { h: 'refuse'; reason: string };
export type HandshakeMsg = Hello | Challenge | Proof | Welcome | Refuse;

export function newNonce(): Buffer {
  return randomBytes(32);
}

/** Proof that `prover` knows the cookie, over the other side's nonce, bound to both names. */
export function proofOf(
  cookie: string,
  role: 'acceptor' | 'dialer',
  nonce: Buffer,
  dialer: string,
  acceptor: string,
): Buffer {
  return createHmac('sha256', cookie)
    .update(role)
    .update(nonce)
    .update(dialer)
    .update('\u0000')
    .update(acceptor)
    .digest();
}

export function proofMatches(expected: Buffer, got: unknown): boolean {
  return Buffer.isBuffer(got) && got.length === expected.length && timingSafeEqual(expected, got);
}

export function encodeHandshake(msg: HandshakeMsg): Buffer {
  return pack(msg);
}

/** Decodes a handshake frame; returns null for anything that is not one. */
export function decodeHandshake(frame: Buffer): HandshakeMsg | null {
  if (frame.length > HANDSHAKE_FRAME_BYTES_MAX) return null;
  let msg: unknown;
  try {
    msg = unpack(frame);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null) return null;
  const m = msg as Record<string, unknown>;
  const isNonce = (v: unknown) =>
    (Buffer.isBuffer(v) || v instanceof Uint8Array) && v.length === 32;
  switch (m.h) {
    case 'hello':
      return typeof m.v === 'number' &&
        typeof m.name === 'string' &&
        typeof m.creation === 'number' &&
        isNonce(m.nonce)
        ? {
            h: 'hello',
            v: m.v,
            name: m.name,
            creation: m.creation,
            nonce: Buffer.from(m.nonce as Uint8Array),
          }
        : null;
    case 'challenge':
      return typeof m.v === 'number' &&
        typeof m.name === 'string' &&
        typeof m.creation === 'number' &&
        isNonce(m.nonce) &&
        isNonce(m.proof)
        ? {
            h: 'challenge',
            v: m.v,
            name: m.name,
            creation: m.creation,
            nonce: Buffer.from(m.nonce as Uint8Array),
            proof: Buffer.from(m.proof as Uint8Array),
          }
        : null;
    case 'proof':
      return isNonce(m.proof) ? { h: 'proof', proof: Buffer.from(m.proof as Uint8Array) } : null;
    case 'welcome':
      return { h: 'welcome' };
    case 'refuse':
      return typeof m.reason === 'string' ? { h: 'refuse', reason: m.reason.slice(0, 200) } : null;
    default:
      return null;
  }
}
