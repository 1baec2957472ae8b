// Run inside a host's namespace by netns.test.ts: becomes node `probe` (TLS), joins the cluster
// through one address, then on every other node spawns Fx.calc and calls it, and prints one JSON
// line: { self, linked, sums: { node: 2 + 3 } }. Exit code 0, or 1 with the error on stderr.
import { call, receive, TIMEOUT } from '../../actors/index.ts';
import { Node, spawnOn } from '../../transport/index.ts';
import { loadTls } from '../../transport/tls.ts';

const [certs, host, joinAddress, expected] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
try {
  await Node.start({
    name: 'probe',
    host,
    cookie: process.env.ACTORCLUSTER_COOKIE,
    tls: loadTls(certs, 'probe'),
  });
  Node.monitorNodes();
  await Node.join(joinAddress);
  // The others link as the mesh forms: wait for their nodeup messages, not for time.
  const want = Number(expected);
  const deadline = Date.now() + 20_000;
  while (Node.list().length < want) {
    const left = deadline - Date.now();
    if (left <= 0 || (await receive({ type: 'nodeup' }, left)) === TIMEOUT) break;
  }
  const sums: Record<string, unknown> = {};
  for (const node of Node.list()) {
    const calc = await spawnOn(node, 'Fx.calc');
    sums[node] = await call(calc, { op: 'add', a: 2, b: 3 });
  }
  console.log(JSON.stringify({ self: Node.self(), linked: Node.list().sort(), sums }));
  await Node.stop();
  process.exit(0);
} catch (err) {
  console.error(`probe failed: ${(err as Error).message}`);
  process.exit(1);
}
