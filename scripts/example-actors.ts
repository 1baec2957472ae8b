// `npm run example:actors`: the README's runnable tour of the runtime, printed step by step.
// Ping-pong with selective receive, a crash seen through a link and a monitor, a supervisor.
import {
  GenServer,
  kill,
  monitor,
  receive,
  Supervisor,
  self,
  send,
  sleep,
  spawn,
  spawnLink,
  TIMEOUT,
  trapExit,
  whereis,
} from '../actors/index.ts';
import { cli } from './support/cli.ts';

cli({
  usage: `Usage: npm run example:actors

Runs a short tour of the process runtime and prints what happens: ping-pong with a selective
receive, a crash seen through a link and a monitor, a supervisor restarting a child.

Options:
  --help   this text`,
  options: {},
});

// 1. A process that answers pings; the reply is picked out with a selective receive.
const ponger = spawn(async () => {
  for (;;) {
    const msg = await receive<{ from: ReturnType<typeof self>; n: number }>();
    send(msg.from, { pong: msg.n });
  }
});
send(self(), 'unrelated');
send(ponger, { from: self(), n: 1 });
console.log(
  '1. reply:',
  await receive({ pong: 1 }, 1000),
  '(left in the mailbox:',
  await receive(null, 0),
  ')',
);

// 2. A linked process crashes; trapping exits turns the signal into a message.
trapExit(true);
const doomed = spawnLink(async () => {
  await sleep(10);
  throw new Error('boom');
});
const exitMsg = await receive<{ from: unknown; reason: Error }>(
  { type: 'EXIT', from: doomed },
  1000,
);
console.log(
  '2. EXIT from',
  String(doomed),
  'reason:',
  exitMsg === TIMEOUT ? 'none' : exitMsg.reason.message,
);

// 3. A monitor on a process that is killed.
const victim = spawn(() => receive());
const ref = monitor(victim);
kill(victim);
console.log(
  '3. DOWN reason:',
  ((await receive({ type: 'DOWN', ref }, 1000)) as { reason: unknown }).reason,
);

// 4. A supervised counter is killed and comes back under a new pid, with fresh state.
const counter = {
  init: () => 0,
  handleCall: (_req: 'incr', _from: unknown, n: number) => ({ reply: n + 1, state: n + 1 }),
};
const sup = Supervisor.start([
  { id: 'counter', start: () => GenServer.startLink(counter, [], { name: 'counter' }) },
]);
await sleep(10);
await GenServer.call('counter', 'incr');
const before = whereis('counter');
console.log('4. counter', String(before), 'at', await GenServer.call('counter', 'incr'));
kill(before!);
await sleep(10);
console.log(
  '   killed; restarted as',
  String(whereis('counter')),
  'at',
  await GenServer.call('counter', 'incr'),
);
await Supervisor.stop(sup);
console.log('done');
