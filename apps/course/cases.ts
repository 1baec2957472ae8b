// The coursework's nine test cases, as data: for a shuffled list of participant names, what
// each participant's test process does (ballots, kills, suspensions, retries).

/** One participant's script in a run (plain data: it crosses to other nodes). */
export interface ParticipantScript {
  name: string;
  participants: string[];
  value: number;
  /** Delays (ms after start) at which this participant calls start_ballot. */
  ballotsAtMs: number[];
  /** Kill this participant's Paxos process this long after start. */
  killAfterMs?: number;
  /** Suspend/resume its Paxos process this many times (1-5 ms pauses) before the rest. */
  suspendCycles?: number;
  /** After each resume, start a ballot (case 9's last survivor). */
  ballotAfterResume?: boolean;
  /** On each 1 s timeout while waiting for the decision, start a ballot again. */
  retrier: boolean;
  /** How many participants must be globally registered before it reports ready. */
  waitRegistered: number;
}

export interface CaseDef {
  id: number;
  title: string;
  /** Participants in the local and the distributed configuration (null: not run in that mode). */
  local: number | null;
  dist: number | null;
  /** Builds every participant's script; `random` is the run's seeded randomness. */
  scripts(names: string[], random: () => number): ParticipantScript[];
}

const between = (random: () => number, lo: number, hi: number) =>
  lo + Math.floor(random() * (hi - lo + 1));

/** Proposed values come from 201..210, as in the coursework. */
function base(names: string[], random: () => number, crashCase: boolean): ParticipantScript[] {
  return names.map((name) => ({
    name,
    participants: names,
    value: between(random, 201, 210),
    ballotsAtMs: [],
    retrier: false,
    waitRegistered: crashCase ? names.length : Math.floor(names.length / 2) + 1,
  }));
}

/** The doomed minority: enough participants that only a bare majority survives. */
function minority(n: number): number {
  return n - (Math.floor(n / 2) + 1);
}

/**
 * Cases 8 and 9: the doomed minority is split into leaders (start a ballot, then die 1-5 ms
 * later) and followers (die 1-5 ms later); the first survivor starts a ballot after 10 ms and
 * retries. With `delays`, doomed followers and every survivor are suspended/resumed 10 times.
 */
function cascade(
  s: ParticipantScript[],
  random: () => number,
  delays: boolean,
): ParticipantScript[] {
  const doomed = minority(s.length);
  const leaders = Math.ceil(doomed / 2);
  for (let i = 0; i < doomed; i++) {
    if (i < leaders) s[i]!.ballotsAtMs = [0];
    else if (delays) s[i]!.suspendCycles = 10;
    s[i]!.killAfterMs = between(random, 1, 5);
  }
  if (delays) for (let i = doomed; i < s.length; i++) s[i]!.suspendCycles = 10;
  s[doomed]!.ballotsAtMs = [10];
  s[doomed]!.retrier = true;
  return s;
}

export const CASES: CaseDef[] = [
  {
    id: 1,
    title: 'No failures, no concurrent ballots',
    local: 3,
    dist: 3,
    scripts: (names, random) => {
      const s = base(names, random, false);
      s[0]!.ballotsAtMs = [0];
      s[s.length - 1]!.retrier = true;
      return s;
    },
  },
  {
    id: 2,
    title: 'No failures, 2 concurrent ballots',
    local: 3,
    dist: 3,
    scripts: (names, random) => {
      const s = base(names, random, false);
      s[0]!.ballotsAtMs = [0];
      s[1]!.ballotsAtMs = [0];
      s[s.length - 1]!.retrier = true;
      return s;
    },
  },
  {
    id: 3,
    title: 'No failures, many concurrent ballots',
    local: 5,
    dist: 5,
    scripts: (names, random) => {
      const s = base(names, random, false);
      for (const p of s) {
        let at = 0;
        p.ballotsAtMs = Array.from({ length: 10 }, () => (at += between(random, 1, 10)));
        p.retrier = true;
      }
      return s;
    },
  },
  {
    id: 4,
    title: 'One non-leader crashes',
    local: 3,
    dist: 3,
    scripts: (names, random) => {
      const s = base(names, random, true);
      s[0]!.ballotsAtMs = [0];
      s[0]!.retrier = true;
      s[1]!.killAfterMs = between(random, 1, 5);
      return s;
    },
  },
  {
    id: 5,
    title: 'Minority non-leader crash',
    local: 5,
    dist: 5,
    scripts: (names, random) => {
      const s = base(names, random, true);
      s[0]!.ballotsAtMs = [0];
      s[0]!.retrier = true;
      for (let i = 1; i <= Math.floor(names.length / 2); i++)
        s[i]!.killAfterMs = between(random, 1, 5);
      return s;
    },
  },
  {
    id: 6,
    title: 'Leader crashes',
    local: 5,
    dist: 5,
    scripts: (names, random) => {
      const s = base(names, random, true);
      s[0]!.ballotsAtMs = [0];
      s[0]!.killAfterMs = between(random, 1, 5);
      s[1]!.ballotsAtMs = [10];
      s[1]!.retrier = true;
      return s;
    },
  },
  {
    id: 7,
    title: 'Leader and some non-leaders crash',
    local: 5,
    dist: 7,
    scripts: (names, random) => {
      const s = base(names, random, true);
      const doomed = minority(names.length);
      s[0]!.ballotsAtMs = [0];
      for (let i = 0; i < doomed; i++) s[i]!.killAfterMs = between(random, 1, 5);
      s[doomed]!.ballotsAtMs = [10];
      s[doomed]!.retrier = true;
      return s;
    },
  },
  {
    id: 8,
    title: 'Cascading failures of leaders and non-leaders',
    local: null,
    dist: 11,
    scripts: (names, random) => cascade(base(names, random, true), random, false),
  },
  {
    id: 9,
    title: 'Cascading failures with random delays',
    local: null,
    dist: 11,
    scripts: (names, random) => {
      const s = cascade(base(names, random, true), random, true);
      const last = s[names.length - 1]!;
      last.ballotAfterResume = true;
      last.retrier = true;
      return s;
    },
  },
];
