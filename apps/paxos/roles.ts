// How a participant's roles are wired: which role an incoming message goes to, and which role
// events an effect turns into. The actors (participant.ts) and the composed core (core.ts, which
// the property tests and the simulator drive) use these same two functions.
import type { AcceptorEvent } from './acceptor.ts';
import type { LearnerEvent } from './learner.ts';
import type { Effect, PaxosMsg } from './messages.ts';
import type { ProposerEvent } from './proposer.ts';

export type Role = 'acceptor' | 'proposer' | 'learner';

export type RoleEvent =
  | { role: 'acceptor'; event: AcceptorEvent }
  | { role: 'proposer'; event: ProposerEvent }
  | { role: 'learner'; event: LearnerEvent };

/** The role that handles a message from another participant (or from this one, via BEB). */
export function routeMessage(from: string, msg: PaxosMsg): RoleEvent {
  switch (msg.type) {
    case 'prepare':
    case 'accept':
    case 'chosen':
      return { role: 'acceptor', event: { type: 'receive', from, msg } };
    case 'promise':
    case 'accepted':
    case 'nack':
    case 'compacted':
      return { role: 'proposer', event: { type: 'receive', from, msg } };
    case 'decided':
      return { role: 'learner', event: { type: 'receive', from, msg } };
  }
}

/**
 * The events for this participant's other roles that an effect carries, once the effect is
 * done (for `learn`: once the decision is on disk). Empty for effects that leave the participant.
 */
export function localEvents(effect: Effect): RoleEvent[] {
  switch (effect.type) {
    case 'round_seen':
      return [{ role: 'proposer', event: { type: 'round_seen', round: effect.round } }];
    case 'chosen': {
      const msg = { type: 'decided' as const, inst: effect.inst, value: effect.value };
      return [{ role: 'learner', event: { type: 'receive', from: effect.from, msg } }];
    }
    case 'learn': {
      const decided = { type: 'decided' as const, inst: effect.inst, value: effect.value };
      return [
        { role: 'proposer', event: decided },
        { role: 'acceptor', event: decided },
      ];
    }
    default:
      return [];
  }
}
