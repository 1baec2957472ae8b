// The one definition of how values are encoded, shared by the wire (transport/codec.ts) and the
// disk (apps/paxos/storage.ts): msgpackr with its extra types, and extensions for Pid and Ref.
// checkValue refuses, up front, what would not come back as it went in.
import { addExtension, Packr } from 'msgpackr';
import { ActorError, showValue } from './errors.ts';
import { Pid, Ref } from './pid.ts';

addExtension({
  Class: Pid,
  type: 1,
  write: (pid: Pid) => [pid.node, pid.id, pid.creation],
  read: ([node, id, creation]: [string, number, number]) => new Pid(node, id, creation),
});
addExtension({
  Class: Ref,
  type: 2,
  write: (ref: Ref) => [ref.node, ref.id, ref.creation],
  read: ([node, id, creation]: [string, number, number]) => new Ref(node, id, creation),
});

/**
 * The value types both codecs agree on: msgpackr's `moreTypes` (Set, Map, Date, RegExp, typed
 * arrays, BigInt of any size, undefined). A fresh object each time: msgpackr keeps its record
 * structures on the options object, so sharing one would share (and corrupt) one table.
 */
export const valueTypes = () => ({ moreTypes: true }) as const;

/** The wire's options: the value types, plus record structures shared along one ordered link. */
export const wireOptions = () => ({ ...valueTypes(), useRecords: true, sequential: true });

/**
 * The disk's codec: the same value types and records, each value self-describing (no structures
 * shared between values, which would have to outlive the process; records keep a plain object
 * apart from a Map), copying embedded buffers out of LMDB's reused read buffers.
 */
export function diskCodec(): Packr {
  return new Packr({ ...valueTypes(), copyBuffers: true });
}

/** Classes whose instances come back as instances of the same class. */
const ROUND_TRIP_CLASSES: Array<abstract new (...args: never[]) => unknown> = [
  Array,
  Map,
  Set,
  Date,
  RegExp,
  Pid,
  Ref,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
];
/** Bound on nesting (deeper values are refused rather than risking the stack). */
const DEPTH_MAX = 64;

/**
 * Throws ActorError invalid_argument unless `value` crosses the wire and the disk unchanged:
 * no functions or symbols, no instances of other classes (they would arrive as plain objects),
 * no cycles, no strings with lone surrogates (they would arrive as U+FFFD), no own `__proto__`
 * key (it would be renamed). Known and accepted: -0 arrives as 0, a Buffer as a Uint8Array,
 * holes in an array as undefined.
 */
export function checkValue(value: unknown, what = 'a value'): void {
  const seen = new Set<object>();
  // The path to a part is only put into words when a part is refused: built lazily, as a
  // function, it costs nothing on the hot path (a batch of values checked per instance).
  type Path = () => string;
  const refuse = (path: Path, why: string): never => {
    throw new ActorError(
      'invalid_argument',
      `${what} must survive the wire and the disk unchanged: ${path() || 'the value'} ${why}`,
    );
  };
  const walk = (v: unknown, path: Path, depth: number): void => {
    switch (typeof v) {
      case 'undefined':
      case 'boolean':
      case 'number':
      case 'bigint':
        return;
      case 'string':
        if (!(v as unknown as { isWellFormed(): boolean }).isWellFormed())
          refuse(path, 'is a string with a lone surrogate');
        return;
      case 'function':
        refuse(path, `is a function (${showValue(v)})`);
        break;
      case 'symbol':
        refuse(path, `is a symbol (${showValue(v)})`);
        break;
    }
    if (v === null) return;
    const obj = v as object;
    if (depth > DEPTH_MAX) refuse(path, `nests deeper than ${DEPTH_MAX} levels`);
    if (seen.has(obj)) refuse(path, 'refers back to itself (a cycle)');
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      if (!ROUND_TRIP_CLASSES.some((C) => obj instanceof C))
        refuse(
          path,
          `is an instance of ${proto?.constructor?.name ?? 'a class'}, which arrives as a plain object`,
        );
    }
    seen.add(obj);
    if (obj instanceof Map) {
      for (const [k, x] of obj) {
        walk(k, () => `${path()}<key>`, depth + 1);
        walk(x, () => `${path()}.get(${showValue(k)})`, depth + 1);
      }
    } else if (obj instanceof Set) {
      for (const x of obj) walk(x, () => `${path()}<member>`, depth + 1);
    } else if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) walk(obj[i], () => `${path()}[${i}]`, depth + 1);
    } else if (proto === Object.prototype || proto === null) {
      if (Object.getOwnPropertySymbols(obj).length > 0) refuse(path, 'has a symbol key');
      for (const key of Object.keys(obj)) {
        if (key === '__proto__') refuse(path, 'has an own __proto__ key');
        walk((obj as Record<string, unknown>)[key], () => `${path()}.${key}`, depth + 1);
      }
    }
    seen.delete(obj);
  };
  walk(value, () => '', 0);
}
