// `npm run demo:inventory`: concurrent buyers of the last item at different replicas, an
// all-or-nothing order, and a retry applied once.
import { InventoryServer } from '../apps/inventory/index.ts';
import { cli } from './support/cli.ts';
import { fail, startReplicas } from './support/demo-setup.ts';

const HELP = `Usage: npm run demo:inventory -- [options]

Three inventory replicas p1, p2, p3. Each round puts one 'last-widget' in stock, then several
buyers try to buy it at the same moment, at different replicas: exactly one must win, the
others are told insufficient_stock, and every replica then shows 0 left. Then an order that
cannot be served wholly is refused wholly, and a retried request is applied once.
Exits 1 if any of that does not hold.

Options:
  --rounds N    rounds of the last-item race (default 5)
  --buyers N    concurrent buyers per round, spread over the replicas (default 3)
  --cluster     run the replicas in 3 node processes (default: in this process)
  --help        this text`;

const args = cli({
  usage: HELP,
  options: {
    rounds: { type: 'string', default: '5' },
    buyers: { type: 'string', default: '3' },
    cluster: { type: 'boolean', default: false },
  },
});
const { values } = args;
const rounds = args.int('rounds', { min: 1 })!;
const buyers = args.int('buyers', { min: 1 })!;

const r = await startReplicas('inventory', values.cluster);
const { names, pids } = r;
console.log(
  `3 inventory replicas ${names.join(', ')} ${values.cluster ? 'in 3 node processes' : 'in this process'}`,
);

let winners = 0;
let refused = 0;
for (let round = 1; round <= rounds; round++) {
  await InventoryServer.add(pids[round % 3]!, 'last-widget', 1);
  const results = await Promise.all(
    Array.from({ length: buyers }, (_, b) =>
      InventoryServer.remove(pids[(round + b) % 3]!, 'last-widget', 1).then((res) => ({
        buyer: `buyer-${b + 1}@${names[(round + b) % 3]}`,
        res,
      })),
    ),
  );
  const won = results.filter((x) => x.res.ok);
  const lost = results.filter((x) => !x.res.ok);
  if (won.length !== 1) fail(`round ${round}: ${won.length} buyers got the last widget`);
  if (lost.some((x) => x.res.ok || x.res.error !== 'insufficient_stock'))
    fail(`round ${round}: a refusal was not insufficient_stock`);
  const left = await Promise.all(pids.map((p) => InventoryServer.get(p, 'last-widget')));
  if (left.some((n) => n !== 0)) fail(`round ${round}: stock left ${left.join(', ')}`);
  winners += won.length;
  refused += lost.length;
  console.log(
    `round ${round}: ${won[0]!.buyer} got it; ${lost.map((x) => x.buyer).join(', ') || 'nobody'} refused (insufficient_stock); left: ${left.join(', ')}`,
  );
}

// All or nothing: 2 apples and 1 pear in stock; an order of 1 apple and 2 pears takes nothing.
await InventoryServer.add(pids[0]!, 'apple', 2);
await InventoryServer.add(pids[1]!, 'pear', 1);
const refusedOrder = await InventoryServer.order(pids[2]!, [
  { item: 'apple', qty: 1 },
  { item: 'pear', qty: 2 },
]);
const afterRefusal = await InventoryServer.view(pids[0]!);
if (refusedOrder.ok || afterRefusal.apple !== 2 || afterRefusal.pear !== 1)
  fail(`the refused order changed the stock: ${JSON.stringify(afterRefusal)}`);
console.log(
  `order 1 apple + 2 pears at p3: refused (${refusedOrder.ok ? '' : refusedOrder.error}), stock unchanged ${JSON.stringify(afterRefusal)}`,
);
const okOrder = await InventoryServer.order(pids[2]!, [
  { item: 'apple', qty: 1 },
  { item: 'pear', qty: 1 },
]);
if (!okOrder.ok) fail('the order that fits was refused');
console.log(`order 1 apple + 1 pear at p3: ${JSON.stringify(okOrder)}`);

// A retry under the same request id, at another replica, is applied once.
const first = await InventoryServer.add(pids[0]!, 'gift', 1, { reqId: 'demo-retry-1' });
const retry = await InventoryServer.add(pids[1]!, 'gift', 1, { reqId: 'demo-retry-1' });
const gifts = await InventoryServer.get(pids[2]!, 'gift');
if (gifts !== 1) fail(`a retried add was applied ${gifts} times`);
console.log(
  `add 1 gift at p1, retried at p2 under the same reqId: ${JSON.stringify(first)} then ${JSON.stringify(retry)}; gifts in stock: ${gifts}`,
);

const views = await Promise.all(pids.map((p) => InventoryServer.view(p)));
if (new Set(views.map((v) => JSON.stringify(v))).size !== 1) fail('the replicas disagree');
console.log(`every replica: ${JSON.stringify(views[0])}`);
console.log(
  `${rounds} rounds, ${winners} winners, ${refused} refused, stock 0 at ${names.join(', ')}: OK`,
);
await r.stop();
process.exit(0);
