// Your Paxos, for the course harness: `npm run course -- --impl examples/student-paxos/paxos.ts`.
//
// The plumbing is written: start/propose/start_ballot, one process per participant registered
// globally under its name, a message loop, and helpers to send to a participant by name. The
// three roles are stubs: fill in every TODO. As it stands every participant ignores everything,
// so nobody ever decides and the harness grades every run FAIL (termination: nobody decided).
//
// Single-decree Paxos in one paragraph: a proposer picks a ballot higher than any it has seen
// and sends `prepare` to everyone (phase 1a). An acceptor promises (phase 1b) never to take part
// in a lower ballot, and tells the proposer the last value it accepted, if any. With promises
// from a majority, the proposer sends `accept` with a value (phase 2a): the value accepted in
// the highest ballot among those promises, or its own value if none of them accepted anything.
// An acceptor accepts unless it has promised a higher ballot (phase 2b). With `accepted` from a
// majority, the value is chosen: the proposer tells everyone (`decided`), and every learner
// tells its upper process `{ type: 'decide', value }`, exactly once.
import { Global, type Pid, receive, self, send, spawn } from '../../actors/index.ts';

// ---- ballots --------------------------------------------------------------------------------

/** A ballot: a round number and the leader's name, so two leaders never share a ballot. */
export interface Ballot {
  round: number;
  leader: string;
}

/** Lower than every real ballot (real rounds start at 1). */
export const NO_BALLOT: Ballot = { round: 0, leader: '' };

/** Ballots are totally ordered: by round, then by leader name. <0, 0 or >0 like a comparator. */
export function compareBallots(a: Ballot, b: Ballot): number {
  if (a.round !== b.round) return a.round - b.round;
  return a.leader < b.leader ? -1 : a.leader > b.leader ? 1 : 0;
}

// ---- messages -------------------------------------------------------------------------------

/** Every message a participant's process receives. `from` is the sender's participant name. */
export type Msg =
  // From propose(pid, value) and start_ballot(pid) (the harness calls these).
  | { type: 'propose'; value: unknown }
  | { type: 'start_ballot' }
  // Phase 1: proposer -> every acceptor, then acceptor -> that proposer.
  | { type: 'prepare'; from: string; ballot: Ballot }
  | {
      type: 'promise';
      from: string;
      ballot: Ballot;
      acceptedBallot: Ballot;
      acceptedValue: unknown;
    }
  // Phase 2: proposer -> every acceptor, then acceptor -> that proposer.
  | { type: 'accept'; from: string; ballot: Ballot; value: unknown }
  | { type: 'accepted'; from: string; ballot: Ballot }
  // Optional: an acceptor tells a proposer its ballot is stale (it promised a higher one).
  | { type: 'nack'; from: string; ballot: Ballot }
  // The chosen value: proposer -> every learner.
  | { type: 'decided'; value: unknown };

// ---- a participant's state ------------------------------------------------------------------

interface State {
  name: string;
  participants: string[];
  /** Gets `{ type: 'decide', value }` once, when this participant learns the decision. */
  upper: Pid;
  /** How many participants make a majority: more than half of them. */
  majority: number;

  // Proposer
  /** The value given to propose(); undefined until then. */
  myValue: unknown;
  /** The highest round this participant has used or seen (its next ballot must be higher). */
  maxRound: number;
  /** The ballot this participant is leading now, if any. */
  current: Ballot | null;
  /** Who promised in the current ballot, and the highest accepted (ballot, value) they reported. */
  promised: Set<string>;
  highestAccepted: { ballot: Ballot; value: unknown };
  /** The value this participant sent in `accept` for the current ballot. */
  proposal: unknown;
  /** Who accepted in the current ballot. */
  acceptedBy: Set<string>;

  // Acceptor
  /** The highest ballot this acceptor has promised. */
  promise: Ballot;
  /** The last ballot (and its value) this acceptor accepted. */
  acceptedBallot: Ballot;
  acceptedValue: unknown;

  // Learner
  /** Whether the upper process has been told; undefined value until then. */
  decided: boolean;
  decision: unknown;
}

// ---- the coursework's interface (written for you) --------------------------------------------

/** Starts a participant registered globally as `name`, and returns its pid at once. */
export function start(name: string, participants: string[], upper: Pid): Pid {
  return spawn(participant, name, participants, upper);
}

/** Only stores the value this participant will propose; sends nothing to the others. */
export function propose(pid: Pid, value: unknown): void {
  send(pid, { type: 'propose', value } satisfies Msg);
}

/** Makes this participant run both phases as the leader of a new ballot. */
export function start_ballot(pid: Pid): void {
  send(pid, { type: 'start_ballot' } satisfies Msg);
}

// ---- plumbing (written for you) ---------------------------------------------------------------

/** Sends `msg` to the participant registered as `name` (dropped if it is not, or no longer, there). */
function sendTo(name: string, msg: Msg): void {
  const pid = Global.whereis(name);
  if (pid) send(pid, msg);
}

/** Sends `msg` to every participant, this one included. */
// biome-ignore lint/correctness/noUnusedVariables: the proposer's TODOs use it
function broadcast(s: State, msg: Msg): void {
  for (const name of s.participants) sendTo(name, msg);
}

/** The participant's process: registers its name, then handles one message at a time. */
async function participant(name: string, participants: string[], upper: Pid): Promise<void> {
  await Global.reRegister(name, self());
  const s: State = {
    name,
    participants,
    upper,
    majority: Math.floor(participants.length / 2) + 1,
    myValue: undefined,
    maxRound: 0,
    current: null,
    promised: new Set(),
    highestAccepted: { ballot: NO_BALLOT, value: undefined },
    proposal: undefined,
    acceptedBy: new Set(),
    promise: NO_BALLOT,
    acceptedBallot: NO_BALLOT,
    acceptedValue: undefined,
    decided: false,
    decision: undefined,
  };
  // Keep receiving: the harness warns if more than 10 messages are left in this mailbox.
  for (;;) {
    const m = await receive<Msg>();
    switch (m.type) {
      case 'propose':
        s.myValue = m.value;
        break;
      case 'start_ballot':
        startBallot(s);
        break;
      case 'prepare':
        onPrepare(s, m);
        break;
      case 'promise':
        onPromise(s, m);
        break;
      case 'accept':
        onAccept(s, m);
        break;
      case 'accepted':
        onAccepted(s, m);
        break;
      case 'nack':
        onNack(s, m);
        break;
      case 'decided':
        onDecided(s, m);
        break;
    }
  }
}

// ---- proposer (TODO) ----------------------------------------------------------------------

/** The message of type T. */
type Of<T extends Msg['type']> = Extract<Msg, { type: T }>;

/** Marks a handler that is not written yet: it ignores its message. */
function todo(..._unused: unknown[]): void {}

/** start_ballot(pid): become the leader of a new ballot (phase 1a). */
function startBallot(s: State): void {
  // TODO: if this participant already knows the decision (s.decided), do not compete: tell
  //   everyone again instead (broadcast { type: 'decided', value: s.decision }), so a peer
  //   that missed it learns it; then return.
  // TODO: pick a ballot higher than any seen: { round: s.maxRound + 1, leader: s.name };
  //   remember it in s.maxRound and s.current; clear s.promised, s.acceptedBy and
  //   s.highestAccepted (to NO_BALLOT).
  // TODO: broadcast({ type: 'prepare', from: s.name, ballot }).
  todo(s); // delete this line once the handler is written
}

/** An acceptor's promise for one of this participant's ballots (phase 1b -> 2a). */
function onPromise(s: State, m: Of<'promise'>): void {
  // TODO: ignore it unless m.ballot is s.current (compareBallots(...) === 0).
  // TODO: add m.from to s.promised; if m.acceptedBallot is higher than
  //   s.highestAccepted.ballot, remember that ballot and m.acceptedValue.
  // TODO: when s.promised.size reaches s.majority (exactly then, once): the value to propose
  //   is s.highestAccepted.value if some acceptor had accepted something (its ballot is not
  //   NO_BALLOT), otherwise s.myValue. Keep it in s.proposal and broadcast
  //   { type: 'accept', from: s.name, ballot: s.current, value }.
  //   (Safety depends on this rule: never propose your own value over an accepted one.)
  todo(s, m); // delete this line once the handler is written
}

/** An acceptor accepted this participant's ballot (phase 2b). */
function onAccepted(s: State, m: Of<'accepted'>): void {
  // TODO: ignore it unless m.ballot is s.current; add m.from to s.acceptedBy.
  // TODO: when s.acceptedBy.size reaches s.majority (once): the value is chosen; broadcast
  //   { type: 'decided', value: s.proposal }.
  todo(s, m); // delete this line once the handler is written
}

/** Optional: a higher ballot exists, so this one cannot win. */
function onNack(s: State, m: Of<'nack'>): void {
  // TODO (optional): if m.ballot is s.current, give up on it (s.current = null). The retrier
  //   in the harness calls start_ballot again, and the next ballot must be higher still.
  todo(s, m); // delete this line once the handler is written
}

// ---- acceptor (TODO) ---------------------------------------------------------------------

/** A leader asks for a promise (phase 1a -> 1b). */
function onPrepare(s: State, m: Of<'prepare'>): void {
  // TODO: remember the highest round seen: s.maxRound = max(s.maxRound, m.ballot.round).
  // TODO: if m.ballot is higher than s.promise: s.promise = m.ballot, and reply
  //   sendTo(m.from, { type: 'promise', from: s.name, ballot: m.ballot,
  //                    acceptedBallot: s.acceptedBallot, acceptedValue: s.acceptedValue }).
  //   Otherwise reply { type: 'nack', from: s.name, ballot: m.ballot } (or say nothing).
  todo(s, m); // delete this line once the handler is written
}

/** A leader asks to accept a value (phase 2a -> 2b). */
function onAccept(s: State, m: Of<'accept'>): void {
  // TODO: if m.ballot is at least s.promise (compareBallots(...) >= 0): s.promise = m.ballot,
  //   s.acceptedBallot = m.ballot, s.acceptedValue = m.value, and reply
  //   sendTo(m.from, { type: 'accepted', from: s.name, ballot: m.ballot }).
  //   Otherwise reply { type: 'nack', from: s.name, ballot: m.ballot } (or say nothing).
  todo(s, m); // delete this line once the handler is written
}

// ---- learner (TODO) ----------------------------------------------------------------------

/** The chosen value. */
function onDecided(s: State, m: Of<'decided'>): void {
  // TODO: the first time only (s.decided is false): s.decided = true, s.decision = m.value,
  //   and send(s.upper, { type: 'decide', value: m.value }). Never tell the upper twice, even
  //   when `decided` arrives again (several leaders, re-announcements).
  todo(s, m); // delete this line once the handler is written
}
