// One-line help for every name preloaded in the REPL, shown by h() and h(name).
// Keep in step with actors/index.ts and the README's API tables.

export const HELP: Record<string, string> = {
  spawn:
    'spawn(fn, ...args) -> pid. Runs fn(...args) as a new process; it exits normal when fn returns, or with the thrown error.',
  spawnLink: 'spawnLink(fn, ...args) -> pid. As spawn, linked to the caller before it runs.',
  spawnMonitor: 'spawnMonitor(fn, ...args) -> [pid, ref]. As spawn, monitored by the caller.',
  spawnOpt: 'spawnOpt(fn, args, { link, trapExit, label, name }) -> pid.',
  self: 'self() -> the pid of the calling process (here: the REPL process).',
  send: "send(dest, msg). dest: pid | 'name' | { global: 'name' } | ['name', 'node']. Dead pids drop the message.",
  receive:
    'await receive(pattern?, timeoutMs?) -> first matching message (pattern: predicate or object); TIMEOUT after timeoutMs.',
  TIMEOUT: 'TIMEOUT: what receive resolves to when its timeout passes.',
  flush: 'flush() -> every message in the mailbox (removed).',
  sleep: 'await sleep(ms).',
  link: 'link(pid). Crashes propagate both ways (unless trapped).',
  unlink: 'unlink(pid).',
  monitor:
    "monitor(pid | 'name') -> ref. A DOWN message { type: 'DOWN', ref, pid, reason } follows the process's death.",
  demonitor: 'demonitor(ref, { flush }) -> boolean.',
  trapExit:
    'trapExit(true) -> old flag. Exit signals arrive as { type: "EXIT", from, reason } messages.',
  exit: "exit(pid, reason) sends an exit signal ('kill' is untrappable); exit(reason) ends the caller.",
  kill: "kill(pid) = exit(pid, 'kill').",
  isAlive: 'isAlive(pid) -> boolean (local pids).',
  suspend: 'await suspend(pid). The process keeps receiving but does not run.',
  resume: 'await resume(pid).',
  messageQueueLen: 'await messageQueueLen(pid) -> messages waiting, or undefined if dead.',
  processInfo: 'processInfo(pid) -> { status, messageQueueLen, links, name, ... }.',
  processes: 'processes() -> pids of every live process on this node.',
  register: "register('name', pid). One name per process; a taken name throws name_taken.",
  unregister: "unregister('name').",
  whereis: "whereis('name') -> pid | undefined.",
  registered: 'registered() -> local names.',
  Global:
    'Global.register(name, pid) -> Promise<boolean>; Global.whereis, reRegister, unregister, send, registeredNames.',
  sendAfter: 'sendAfter(dest, msg, ms) -> ref. cancelTimer(ref) -> ms left | false.',
  cancelTimer: 'cancelTimer(ref) -> ms left | false.',
  call: 'await call(dest, request, timeoutMs = 5000). Throws ActorError noproc | timeout | exit.',
  cast: 'cast(dest, request). Never fails.',
  reply: 'reply(from, value): answer a { type: "$call", from, request } message.',
  GenServer:
    'GenServer.start({ init, handleCall, handleCast, handleInfo, terminate }, args, { name }) -> pid; GenServer.call/cast/stop.',
  Supervisor:
    "Supervisor.start([{ id, start, restart }], { strategy: 'one_for_one' | 'one_for_all' | 'rest_for_one', maxRestarts, periodMs }) -> pid; whichChildren, terminateChild, restartChild, startChild, deleteChild.",
  ActorError:
    'ActorError: thrown for misuse; .code is noproc | timeout | exit | name_taken | unknown_name | invalid_argument | ...',
  Node: "Node.start({ name, port, cookie }) -> 'name@host:port'; Node.connect(name), Node.list(), Node.self(), Node.ping(name), Node.monitor(name), Node.monitorNodes(), Node.registerModule(name, exports).",
  spawnOn:
    "await spawnOn(node, 'Module.fn', args, { link }) -> pid of a process started on another node (the module must be registered there).",
  Faults:
    'await Faults.partition(a, b, { oneWay }), Faults.heal(a, b), Faults.delay(a, b, { delayMs, jitterMs }), Faults.drop(a, b, p), Faults.duplicate(a, b, p), Faults.clear().',
  Paxos:
    'Paxos.start(name, participants, upper) -> pid; Paxos.propose(pid, value); Paxos.startBallot(pid); multi-instance: await Paxos.proposeInstance(pid, inst, value, timeoutMs), await Paxos.getDecision(pid, inst, timeoutMs).',
  EPaxos:
    "EPaxos.init(partitionId, nodeList, localNodeId, { machine, storage, timeoutMs, checkpointEvery }) -> 'ok' starts replica nodeList[localNodeId - 1] (1-based; in one session several: EPaxos.init('p1', ['r1','r2','r3'], 1) ... 3); await EPaxos.start_cluster('all' | 'minimum', timeoutMs) -> 'ok' | { ok: false, error: 'timeout' }; await EPaxos.call('p1', { keys: ['x'], op: { put: 1 } | { add: 1 } | 'get' }, { replica, timeoutMs }) -> { ok: true, result } | { ok: false, error: 'exceed_failure_tolerant' | 'timeout' }; key = EPaxos.cast(...) then await EPaxos.outcome(key), EPaxos.lookup(key); await EPaxos.status('p1', { replica }); await EPaxos.stop('p1', replica?); await EPaxos.join('p1', ['r1','r2','r3','r4'], 4) -> 'ok' adds replica r4 to the running partition (it starts from a checkpoint and counts in quorums).",
  BEB: "BEB.start(name, neighbours, upper) -> pid; BEB.bcSend(pid, msg) delivers { type: 'bc_receive', origin, msg } to every neighbour's upper.",
  InventoryServer:
    "InventoryServer.start(name, procs) -> pid. await add(server, item, qty) | remove(server, item, qty) | order(server, [{ item, qty }]) -> { ok: true, stock } or { ok: false, error: 'insufficient_stock', ... }; await view(server) -> { item: qty }; await get(server, item) -> qty; status(server); await addReplica(server, name, { node? }) -> { epoch, members, pid } (a new replica, caught up, through the log); await removeReplica(server, name) -> { epoch, members }. server: a pid or a replica name. Options { reqId, timeoutMs, attempts }. Aliases addToInventory, removeFromInventory, viewInventory and the seed's add_to_inventory(server, qty) (item 'units'), remove_from_inventory, view_inventory.",
  SeatReserve:
    "SeatReserve.start(name, participants) -> pid (a 10x10 hall, rows and seats 1..10). await reserve(srs, row, seat, user) -> { ok: true, holder } | { ok: false, error: 'taken', holder } (a seat outside 1..10 rejects with invalid_argument); await getStatus(srs, row, seat) -> { status: 'free' } | { status: 'taken', holder }; await getStatusAll(srs) -> 10 rows of holder | null.",
  cluster:
    "(npm start -- --cluster N) the local cluster: await cluster.killNode('p1') (SIGKILL), await cluster.startNode('p1') (relaunch on its data), cluster.pids('inventory' | 'seats'), cluster.names.",
  procs: '(npm start -- --cluster N) the replica names p1..pN.',
  pids: '(npm start -- --cluster N) the inventory replicas, one per node; after a restart, pids = cluster.pids().',
  srs: "(npm start -- --cluster N) the seat replicas; after a restart, srs = cluster.pids('seats').",
  metrics:
    "await metrics() prints this process's metrics (messages, bytes, processes, mailboxes, restarts, ballots, nacks, decisions, service operations). A node serves them at /metrics with npm run node -- --metrics-port N.",
  CALL_TIMEOUT_MS_DEFAULT: 'CALL_TIMEOUT_MS_DEFAULT: 5000, the timeout of call when none is given.',
  DownMessage:
    "DownMessage: the class of { type: 'DOWN', ref, pid, reason } messages (isDown(m) tests for one).",
  ExitMessage:
    "ExitMessage: the class of { type: 'EXIT', from, reason } messages a trapping process receives (isExit(m)).",
  ExitSignal: 'ExitSignal: what exit(reason) throws inside the calling process to end it.',
  MAX_INTENSITY_REASON:
    "MAX_INTENSITY_REASON: { shutdown: 'reached_max_restart_intensity' }, a supervisor's exit reason when its children restart too often.",
  Pid: 'Pid: a process id (node, id, creation); prints as #PID<node.id>. pid.equals(other).',
  Ref: 'Ref: a unique reference (monitors, calls); prints as #Ref<node.id>.',
  isPid: 'isPid(x) -> whether x is a Pid.',
  isRef: 'isRef(x) -> whether x is a Ref.',
  isCall: "isCall(m) -> whether m is a { type: '$call', from, request } message.",
  isCast: "isCast(m) -> whether m is a { type: '$cast', request } message.",
  isDown: 'isDown(m) -> whether m is a DOWN message.',
  isExit: 'isExit(m) -> whether m is an EXIT message.',
  isCleanExit: "isCleanExit(reason) -> true for 'normal' and shutdown reasons (no crash report).",
  formatReason: 'formatReason(reason) -> an exit reason as a short string.',
  matches: 'matches(pattern, msg) -> whether receive(pattern) would take msg.',
  nodeName: "nodeName() -> this node's full name ('nonode' when not a node).",
  logger: 'logger() -> the runtime\'s pino logger; logger().info({ k: v }, "text").',
  setLogger: "setLogger(pinoLogger) replaces the runtime's logger.",
  counter:
    "counter(name, help, labelNames) -> a prom-client Counter in this node's registry (see metrics()).",
  gauge: "gauge(name, help, labelNames, collect?) -> a prom-client Gauge in this node's registry.",
  histogram: 'histogram(name, help, buckets, labelNames) -> a prom-client Histogram.',
  metricsText: "await metricsText() -> every metric of this process in Prometheus's text format.",
  registry: "registry: this process's prom-client Registry.",
  registerProbe:
    "registerProbe(kind, ownerPid, () => data): shown by the node's observer (and the dashboard) while the owner lives.",
  readProbes: 'readProbes() -> what every live probe says now.',
  recordEvent:
    'recordEvent(channel, { ... }, keep = 200): adds an event to a ring the observer shows.',
  recentEvents:
    "recentEvents(channel) -> the ring's events, oldest first (e.g. recentEvents('paxos')).",
  showValue: 'showValue(value) -> a short one-line rendering of any value, for error messages.',
  Process:
    "Process.exit(pid, 'kill'), Process.send, Process.sleep, Process.monitor, Process.link, Process.register, Process.whereis, Process.alive(pid), Process.list(): Elixir's Process module names for the runtime's functions (the seed's pids.map(p => Process.exit(p, 'kill')) works as typed).",
  lastError:
    'lastError() prints the last error shown at the prompt in full, with its stack (errors print as one line: ** (code) message).',
  h: 'h() lists the preloaded names; h(name) or h("name") explains one.',
};
