// A process mailbox: FIFO queue with selective removal (Erlang's save-queue semantics).
// Taking from the head is O(1); taking a message further back is O(position).

/** Returned by `take` when no message matches. */
export const NONE: unique symbol = Symbol('none');

/** A FIFO array with a moving head: what Mailbox and Inbox share. */
class Queue {
  protected items: unknown[] = [];
  protected head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(msg: unknown): void {
    this.items.push(msg);
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** Reclaims the consumed prefix once it dominates the array (push/take stay amortised O(1)). */
  protected compact(): void {
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    } else if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
  }
}

export class Mailbox extends Queue {
  /** Removes and returns the first message that matches (the head if no matcher), else NONE. */
  take(match: ((msg: unknown) => boolean) | null): unknown {
    const items = this.items;
    if (match === null) {
      if (this.head >= items.length) return NONE;
      const msg = items[this.head];
      items[this.head] = undefined;
      this.head++;
      this.compact();
      return msg;
    }
    for (let i = this.head; i < items.length; i++) {
      const msg = items[i];
      if (match(msg)) {
        if (i === this.head) {
          items[i] = undefined;
          this.head++;
          this.compact();
        } else {
          items.splice(i, 1);
        }
        return msg;
      }
    }
    return NONE;
  }

  /** Removes every message that matches; returns how many were removed. */
  removeAll(match: (msg: unknown) => boolean): number {
    const kept: unknown[] = [];
    let removed = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const msg = this.items[i];
      if (match(msg)) removed++;
      else kept.push(msg);
    }
    this.items = kept;
    this.head = 0;
    return removed;
  }

  /** The queued messages, oldest first (a copy). */
  toArray(): unknown[] {
    return this.items.slice(this.head);
  }
}

/**
 * Messages on their way to a mailbox: pushed at the back, drained from the front in slices.
 * Plainer than Mailbox (no selective removal), for the path every message takes.
 */
export class Inbox extends Queue {
  /** Hands up to `max` messages, oldest first, to `take`; stops early once it returns false. */
  drain(max: number, take: (msg: unknown) => boolean): void {
    const items = this.items;
    const end = Math.min(items.length, this.head + max);
    let i = this.head;
    while (i < end) {
      const msg = items[i];
      items[i] = undefined;
      i++;
      if (!take(msg)) break;
    }
    this.head = i;
    this.compact();
  }
}
