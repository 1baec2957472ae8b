// `npm run demo:seats`: the coursework's seat-reservation example. One seat reserved at three
// replicas at once (one winner), a replica killed, the others still serving and agreeing.
import { SeatReserve } from '../apps/seats/index.ts';
import { cli } from './support/cli.ts';
import { fail, startReplicas } from './support/demo-setup.ts';

const HELP = `Usage: npm run demo:seats -- [options]

Three seat-reservation replicas p1, p2, p3 for a 10x10 hall. Three users reserve row 5 seat 5
at the three replicas at the same moment: one gets it, the others are told it is taken and by
whom. Then replica p1 is killed (its actor; with --cluster its whole node process, SIGKILL),
and the other two still take reservations and agree on every seat. Prints the hall at the end.
Exits 1 if any of that does not hold.

Options:
  --cluster     run the replicas in 3 node processes (default: in this process)
  --help        this text`;

const { values } = cli({
  usage: HELP,
  options: { cluster: { type: 'boolean', default: false } },
});

const r = await startReplicas('seats', values.cluster);
const { names, pids } = r;
console.log(
  `3 seat replicas ${names.join(', ')} ${values.cluster ? 'in 3 node processes' : 'in this process'}`,
);

const users = ['ada', 'bob', 'cy'];
const results = await Promise.all(pids.map((s, i) => SeatReserve.reserve(s, 5, 5, users[i]!)));
results.forEach((res, i) => {
  console.log(
    `${users[i]} at ${names[i]}: ${res.ok ? 'reserved row 5 seat 5' : `${res.error}${res.error === 'taken' ? ` (held by ${res.holder})` : ''}`}`,
  );
});
const winners = results.filter((x) => x.ok);
if (winners.length !== 1) fail(`${winners.length} users got row 5 seat 5`);
const holder = (winners[0] as { holder: string }).holder;
if (results.some((x) => !x.ok && (x.error !== 'taken' || x.holder !== holder)))
  fail('a loser was not told who holds the seat');

await r.kill('p1');
console.log(`killed p1 (${values.cluster ? 'SIGKILL of its node process' : 'the replica actor'})`);
const dan = await SeatReserve.reserve(pids[1]!, 5, 6, 'dan');
const eve = await SeatReserve.reserve(pids[2]!, 5, 6, 'eve');
console.log(
  `dan at p2: ${dan.ok ? 'reserved row 5 seat 6' : dan.error}; eve at p3: ${eve.ok ? 'reserved' : `${eve.error}${eve.error === 'taken' ? ` (held by ${eve.holder})` : ''}`}`,
);
if (!dan.ok || eve.ok) fail('after the kill, row 5 seat 6 did not go to exactly dan');
for (const i of [1, 2]) {
  const s55 = await SeatReserve.getStatus(pids[i]!, 5, 5);
  const s56 = await SeatReserve.getStatus(pids[i]!, 5, 6);
  console.log(
    `status at ${names[i]}: row 5 seat 5 ${JSON.stringify(s55)}, seat 6 ${JSON.stringify(s56)}`,
  );
  if (
    s55.status !== 'taken' ||
    s55.holder !== holder ||
    s56.status !== 'taken' ||
    s56.holder !== 'dan'
  )
    fail(`${names[i]} does not agree`);
}
const [hall2, hall3] = await Promise.all([
  SeatReserve.getStatusAll(pids[1]!),
  SeatReserve.getStatusAll(pids[2]!),
]);
if (JSON.stringify(hall2) !== JSON.stringify(hall3)) fail('p2 and p3 see different halls');
console.log("the hall at p3 (. free, otherwise the holder's initial):");
console.log('         seat 1 2 3 4 5 6 7 8 9 10');
hall3.forEach((row, i) => {
  console.log(
    `  row ${String(i + 1).padStart(2)}      ${row.map((h) => (h ? h[0] : '.')).join(' ')}`,
  );
});
console.log(`one winner of row 5 seat 5 (${holder}); p2 and p3 serve and agree with p1 down: OK`);
await r.stop();
process.exit(0);
