// Run by logs.test.ts as a child process: three replicas in one process, one operation.
import { Global } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { waitUntil } from '../helpers.ts';

const procs = ['t1', 't2', 't3'];
const pids = procs.map((p) => InventoryServer.start(p, procs));
await waitUntil(
  () => procs.every((p) => Global.whereis(`inventory:${p}`) !== undefined),
  'every replica registered',
);
await InventoryServer.add(pids[0]!, 'apple', 1);
process.exit(0);
