import { describe, expect, it } from 'vitest';
import * as runtime from '../../actors/index.ts';
import { HELP } from '../../scripts/repl-help.ts';

describe('REPL help', () => {
  it('every name the REPL preloads has a line of help', () => {
    const preloaded = [
      ...Object.keys(runtime),
      ...['Node', 'spawnOn', 'Faults', 'Paxos', 'EPaxos', 'BEB', 'InventoryServer', 'SeatReserve'],
      ...['h', 'metrics', 'cluster', 'procs', 'pids', 'srs', 'Process', 'lastError'],
    ];
    expect(preloaded.filter((name) => !HELP[name])).toEqual([]);
  });
});
