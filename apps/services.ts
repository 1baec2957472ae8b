// The services a node can run for others: load with `npm run node -- --load Services=apps/services.ts`,
// then `await spawnOn('p1@127.0.0.1:4001', 'Services.inventory', ['p1', ['p1', 'p2', 'p3']])`.
import { InventoryServer } from './inventory/index.ts';
import type { ServiceOptions } from './rsm/replica.ts';
import { SeatReserve } from './seats/index.ts';

/** An inventory replica (the spawned process is the replica). */
export function inventory(name: string, procs: string[], options?: ServiceOptions): Promise<void> {
  return InventoryServer.replica(name, procs, options);
}

/** A seat-reservation replica. */
export function seats(name: string, procs: string[], options?: ServiceOptions): Promise<void> {
  return SeatReserve.replica(name, procs, options);
}
