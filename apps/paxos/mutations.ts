// Deliberately broken variants of the Paxos roles, for tests only: each shows that the
// simulator or the property tests catch the bug it plants. Nothing in the shipping path sets one.

export type PaxosMutation =
  /** The proposer proposes its own value even when a promise reported an accepted one. */
  | 'ignore-accepted'
  /** The acceptor accepts a value under a ballot below the one it promised. */
  | 'accept-below-promise'
  /** The proposer reserves no rounds: after a restart it may reuse a ballot it used before. */
  | 'no-reservation'
  /**
   * Multi-Paxos: the acceptor's promise for a term reports what it accepted in the first
   * instance only, not in the instances after it (`later`): a new leader overwrites them.
   */
  | 'forget-later'
  /** The acceptor's promise reports nothing accepted (it forgets its accepted value when promising). */
  | 'forget-accepted-on-promise';

export const PAXOS_MUTATIONS: readonly PaxosMutation[] = [
  'ignore-accepted',
  'accept-below-promise',
  'no-reservation',
  'forget-later',
  'forget-accepted-on-promise',
];

export const NO_MUTATIONS: ReadonlySet<PaxosMutation> = new Set();
