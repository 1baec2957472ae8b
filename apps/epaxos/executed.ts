// The instances a replica has executed, kept small: per command leader a frontier (every
// instance numbered up to it) and the few executed above it (out of order). What a checkpoint
// records, what a restarted replica starts from, and what it asks the others to go beyond.
import { type ExecutedSummary, type InstanceKey, instanceKey, parseInstance } from './messages.ts';

export class ExecutedSet {
  private readonly upTo = new Map<string, number>();
  private readonly above = new Set<InstanceKey>();
  /** How many instances the set holds. */
  size = 0;

  static from(summary: ExecutedSummary | undefined): ExecutedSet {
    const x = new ExecutedSet();
    if (!summary) return x;
    for (const [leader, n] of Object.entries(summary.upTo)) {
      x.upTo.set(leader, n);
      x.size += n + 1;
    }
    for (const inst of summary.above) x.add(inst);
    return x;
  }

  has(inst: InstanceKey): boolean {
    if (this.above.has(inst)) return true;
    const { replica, n } = parseInstance(inst);
    return n <= (this.upTo.get(replica) ?? -1);
  }

  add(inst: InstanceKey): void {
    if (this.has(inst)) return;
    this.size++;
    const { replica, n } = parseInstance(inst);
    let top = this.upTo.get(replica) ?? -1;
    if (n !== top + 1) {
      this.above.add(inst);
      return;
    }
    top = n;
    while (this.above.delete(instanceKey(replica, top + 1))) top++;
    this.upTo.set(replica, top);
  }

  /** Every instance of `leader` numbered up to this one is in the set (-1: not even the first). */
  frontier(leader: string): number {
    return this.upTo.get(leader) ?? -1;
  }

  /** The highest instance number of `leader` in the set (-1: none). */
  highest(leader: string): number {
    let top = this.frontier(leader);
    for (const inst of this.above) {
      const { replica, n } = parseInstance(inst);
      if (replica === leader) top = Math.max(top, n);
    }
    return top;
  }

  summary(): ExecutedSummary {
    return { upTo: Object.fromEntries(this.upTo), above: [...this.above].sort() };
  }
}
