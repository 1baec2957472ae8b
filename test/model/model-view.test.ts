// The Paxos core's modelView (apps/paxos/core.ts) is exact: two states with the same view step
// alike. Checked on every participant state the model reaches without views (so on real, whole
// states), for every message that participant can receive and every start, with the shipping core
// and with each mutation; a view that forgets too much is caught.
import { describe, expect, it } from 'vitest';
import { decodeState, encodeState } from '../../apps/model/codec.ts';
import { exploreMerged } from '../../apps/model/merged.ts';
import { DEFAULT_PAXOS_MODEL, paxosModel } from '../../apps/model/paxos-model.ts';
import {
  createParticipant,
  type Event,
  modelView,
  type ParticipantState,
  step,
} from '../../apps/paxos/core.ts';
import { PAXOS_MUTATIONS, type PaxosMutation } from '../../apps/paxos/mutations.ts';
import { scaledMs } from '../../transport/timeouts.ts';

const LONG_MS = scaledMs(120_000);
type View = (s: ParticipantState) => ParticipantState;

/** Runs one event on a fresh copy; the effects (or the error) and the view after, as text. */
function outcome(state: ParticipantState, events: Event[], view: View): string {
  const s = decodeState<ParticipantState>(encodeState(state));
  try {
    const effects = events.flatMap((e) => step(s, e));
    return encodeState({ effects, after: view(s) });
  } catch (err) {
    return `throws ${(err as Error).message}`;
  }
}

/**
 * Every (reachable state, event) where the state and its view step differently, as text (empty:
 * the view is exact there). The mutations set in the states (createParticipant's) are kept.
 */
function mismatches(
  mutations: PaxosMutation[],
  view: View,
  bounds = { participants: 3, ballots: 1, crashes: 1 },
) {
  const m = paxosModel({
    ...DEFAULT_PAXOS_MODEL,
    ...bounds,
    mutations,
    ghostSends: true,
    view: false,
  });
  exploreMerged(m.mergedSpace()); // fills the model with states (a mutation stops it early)
  const messages = m.messages();
  const found: string[] = [];
  let pairs = 0;
  for (const plain of m.coreStates()) {
    // The decoded state lost its mutation set: put the run's back.
    const state = { ...(plain as ParticipantState) };
    const again = createParticipant(state.me, state.participants, undefined, new Set(mutations));
    state.acceptor = { ...state.acceptor, mutations: again.acceptor.mutations };
    state.proposer = { ...state.proposer, mutations: again.proposer.mutations };
    const events: Event[][] = [
      [{ type: 'start_ballot', inst: 0 }],
      [
        { type: 'propose', inst: 0, value: 'A' },
        { type: 'start_ballot', inst: 0 },
      ],
      ...messages
        .filter((w) => w.to === state.me)
        .map((w): Event[] => [{ type: 'receive', from: w.from, msg: w.msg }]),
    ];
    for (const e of events) {
      pairs++;
      const whole = outcome(state, e, view);
      const viewed = outcome(view(state), e, view);
      if (whole !== viewed) found.push(`${encodeState(e)} on ${encodeState(state)}`);
    }
  }
  return { found, pairs };
}

describe('the Paxos core modelView', () => {
  it(
    'is exact on every reachable state and event (3 participants, 1 ballot, 1 crash; 2, 2, 1)',
    () => {
      for (const bounds of [
        { participants: 3, ballots: 1, crashes: 1 },
        { participants: 2, ballots: 2, crashes: 1 },
      ]) {
        const r = mismatches([], modelView, bounds);
        expect(r.found.slice(0, 3)).toEqual([]);
        expect(r.pairs).toBeGreaterThan(2_000);
      }
    },
    LONG_MS,
  );

  it.each(PAXOS_MUTATIONS.map((m) => [m]))(
    'is exact with the mutation %s too',
    (mutation) => {
      const r = mismatches([mutation], modelView);
      expect(r.found.slice(0, 3)).toEqual([]);
      expect(r.pairs).toBeGreaterThan(100);
    },
    LONG_MS,
  );

  it('a view that forgets the promises of a ballot still in phase 1 is caught', () => {
    const wrong: View = (s) => {
      const v = modelView(s);
      for (const b of v.proposer.ballots.values()) b.promises = new Set();
      return v;
    };
    expect(mismatches([], wrong).found.length).toBeGreaterThan(0);
  });

  it('the model interns views: fewer states, the same verdict', () => {
    const o = { ...DEFAULT_PAXOS_MODEL, participants: 3, ballots: 1, crashes: 1, ghostSends: true };
    const whole = exploreMerged(paxosModel({ ...o, view: false }).mergedSpace());
    const viewed = exploreMerged(paxosModel(o).mergedSpace());
    expect([whole.kind, viewed.kind]).toEqual(['clean', 'clean']);
    expect(viewed.configurations).toBeLessThan(whole.configurations);
  });
});
