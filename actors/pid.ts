// Process identifiers and references: small immutable values that cross node boundaries.
// A Pid names one process forever: (node, id, creation) is never reused, unlike a nact path.
import { inspect } from 'node:util';

/** What Pid and Ref share: identity by (node, id, creation), a Map key, readable printing. */
abstract class Ident {
  readonly node: string;
  readonly id: number;
  /** Incarnation of the node that made it (a restarted node gets a new one). */
  readonly creation: number;
  // Made on first use: most refs (one per call) never need it. Private, so equality checks
  // that compare own properties never see whether it was made.
  #key: string | undefined = undefined;

  constructor(node: string, id: number, creation: number) {
    this.node = node;
    this.id = id;
    this.creation = creation;
  }

  /** A string unique to this value among its kind, usable as a Map key. */
  get key(): string {
    if (this.#key === undefined) this.#key = `${this.node}.${this.id}.${this.creation}`;
    return this.#key;
  }

  protected abstract get tag(): string;

  equals(other: unknown): boolean {
    return (
      other instanceof Ident &&
      other.constructor === this.constructor &&
      other.id === this.id &&
      other.node === this.node &&
      other.creation === this.creation
    );
  }

  /** `#PID<p1.42>`: the node's short name (before '@'), which is unique in a cluster. */
  toString(): string {
    const at = this.node.indexOf('@');
    return `#${this.tag}<${at < 0 ? this.node : this.node.slice(0, at)}.${this.id}>`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

/** A process identifier. Prints as `#PID<node.id>`. */
export class Pid extends Ident {
  protected get tag(): string {
    return 'PID';
  }
}

/** A unique reference (monitor refs, call refs, timer refs). Prints as `#Ref<node.id>`. */
export class Ref extends Ident {
  protected get tag(): string {
    return 'Ref';
  }
}

export function isPid(value: unknown): value is Pid {
  return value instanceof Pid;
}

export function isRef(value: unknown): value is Ref {
  return value instanceof Ref;
}
