// Process identifiers and references: small immutable values that cross node boundaries.
// A Pid names one process forever: (node, id, creation) is never reused, unlike a nact path.
import { inspect } from 'node:util';

/** A process identifier. Prints as `#PID<node.id>`; `creation` tells node incarnations apart. */
export class Pid {
  readonly node: string;
  readonly id: number;
  /** Incarnation of the node that created the pid (a restarted node gets a new one). */
  readonly creation: number;
  /** A string unique to this pid, usable as a Map key. */
  readonly key: string;

  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
    this.key = `${node}.${id}.${creation}`;
  }

  equals(other: unknown): boolean {
    return (
      other instanceof Pid &&
      other.id === this.id &&
      other.node === this.node &&
      other.creation === this.creation
    );
  }

  toString(): string {
    return `#PID<${this.node}.${this.id}>`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** A unique reference (monitor refs, call refs, timer refs). Prints as `#Ref<node.id>`. */
export class Ref {
  readonly node: string;
  readonly id: number;
  readonly creation: number;
  readonly key: string;

  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
    this.key = `${node}.${id}.${creation}`;
  }

  equals(other: unknown): boolean {
    return (
      other instanceof Ref &&
      other.id === this.id &&
      other.node === this.node &&
      other.creation === this.creation
    );
  }

  toString(): string {
    return `#Ref<${this.node}.${this.id}>`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export function isPid(value: unknown): value is Pid {
  return value instanceof Pid;
}

export function isRef(value: unknown): value is Ref {
  return value instanceof Ref;
}
