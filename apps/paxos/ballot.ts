// Ballots: (round, leader) pairs, totally ordered by round then leader name, so two
// participants never use the same ballot and every participant can always go higher.

export interface Ballot {
  readonly round: number;
  readonly leader: string;
}

/** Negative if a < b, 0 if equal, positive if a > b. */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round - b.round;
  return a.leader < b.leader ? -1 : a.leader > b.leader ? 1 : 0;
}

export function sameBallot(a: Ballot, b: Ballot): boolean {
  return a.round === b.round && a.leader === b.leader;
}

export function formatBallot(b: Ballot | null): string {
  return b === null ? '-' : `${b.round}.${b.leader}`;
}
