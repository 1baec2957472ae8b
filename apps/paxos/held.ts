// Effects carried out in order behind the durable writes they depend on (group commit), for a
// shell around a pure core: the Paxos roles (participant.ts) and the EPaxos replica use it.
import { self, send } from '../../actors/index.ts';

/** Effects waiting behind writes: past this many, the shell waits (drained) before stepping on. */
export const HELD_MAX = 1024;

/** What a shell sends itself when a write failed: it then crashes with the write's error. */
export interface WriteFailed {
  type: 'write_failed';
}

/**
 * Carries out a shell's effects in order. A write that is not on disk yet (a promise from
 * `issue`) holds every effect after it until it is flushed, this message's and every later
 * message's: nothing that depends on it leaves before. The shell meanwhile steps on to its
 * next messages: their writes are issued at once (LMDB commits the writes of a turn together and
 * one flush covers them all: group commit), their effects wait their turn behind the earlier
 * writes. With the in-memory store nothing waits: everything runs synchronously, in order.
 * Made inside the shell's process (a failed write is reported to it).
 */
export class Held<E> {
  /** Settles once every effect handed over so far is carried out; undefined when they all are. */
  private tail: Promise<void> | undefined;
  private links = 0;
  private failure: { err: unknown } | undefined;
  private readonly me = self();

  constructor(
    /** Issues the write an effect asks for: a promise until it is on disk, else undefined. */
    private readonly issue: (e: E) => Promise<unknown> | undefined,
    /** Carries out an effect once the writes before it are on disk. */
    private readonly carryOut: (e: E) => void,
  ) {}

  /** Issues the writes of `effects` now and carries out each effect after the writes before it. */
  run(effects: readonly E[]): void {
    for (const e of effects) {
      const write = this.issue(e);
      if (write) {
        write.catch(() => undefined); // its failure is taken up by the chain, once it is there
        this.chain(this.tail ? this.tail.then(() => write) : write);
      }
      this.after(() => this.carryOut(e));
    }
  }

  /** Runs `fn` once every effect handed over before is carried out (at once if none waits). */
  after(fn: () => void): void {
    if (this.tail) this.chain(this.tail.then(fn));
    else fn();
  }

  /** True when so much waits that the shell should wait (drained) before stepping on. */
  get full(): boolean {
    return this.links > HELD_MAX;
  }

  /** Resolves once nothing waits. */
  async drained(): Promise<void> {
    while (this.tail) await this.tail.catch(() => undefined);
  }

  /** Throws the error of a failed write (the shell crashes with it, as when it awaited it). */
  check(): void {
    if (this.failure) throw this.failure.err;
  }

  private chain(p: Promise<unknown>): void {
    this.links++;
    const settled = () => {
      this.links--;
      if (this.tail === link) this.tail = undefined;
    };
    const link: Promise<void> = p.then(settled, (err: unknown) => {
      settled();
      // Nothing after a failed write is carried out: the rest of the chain rejects too.
      if (!this.failure) {
        this.failure = { err };
        send(this.me, { type: 'write_failed' } satisfies WriteFailed);
      }
      throw err;
    });
    link.catch(() => undefined); // handled: the shell crashes from its loop (check)
    this.tail = link;
  }
}
