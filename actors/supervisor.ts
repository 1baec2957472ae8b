// Supervisor: starts children, watches them through links, restarts them by strategy.
// A supervisor is a process that traps exits (nact's own escalate/resume wedges: NACT_NOTES 2).

import type { Dest } from './api.ts';
import {
  demonitor,
  exit,
  link,
  monitor,
  receive,
  self,
  send,
  spawnOpt,
  TIMEOUT,
  trapExit,
  unlink,
} from './api.ts';
import { call, reply } from './call.ts';
import { ActorError, ExitSignal } from './errors.ts';
import { logger } from './log.ts';
import { type CallMessage, isCall, isDown, isExit } from './messages.ts';
import { supervisorRestarts } from './metrics.ts';
import { Pid } from './pid.ts';
import { formatReason, isCleanExit } from './reason.ts';

export type RestartType = 'permanent' | 'transient' | 'temporary';
export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type Shutdown = number | 'brutal_kill' | 'infinity';

export interface ChildSpec {
  /** Unique within the supervisor. */
  id: string;
  /** Starts the child and returns its pid; runs inside the supervisor (self() is the supervisor). */
  start: () => Pid | Promise<Pid>;
  /** permanent: always restarted; transient: only after an abnormal exit; temporary: never. */
  restart?: RestartType;
  /** How long to wait after exit(child, 'shutdown') before killing it (default 5000 ms for a
   * worker, 'infinity' for a supervisor). */
  shutdown?: Shutdown;
  type?: 'worker' | 'supervisor';
}

export interface SupervisorOptions {
  strategy?: Strategy;
  /** More than maxRestarts restarts within periodMs makes the supervisor give up (default 3 in 5000 ms). */
  maxRestarts?: number;
  periodMs?: number;
  /** Register the supervisor locally under this name. */
  name?: string;
  /** Milliseconds clock for the restart intensity window (tests inject one). */
  clock?: () => number;
}

export interface ChildInfo {
  id: string;
  pid: Pid | undefined;
  type: 'worker' | 'supervisor';
  restart: RestartType;
}

/** The reason a supervisor exits with when its children restart too often. */
export const MAX_INTENSITY_REASON = { shutdown: 'reached_max_restart_intensity' } as const;

interface Child {
  spec: Required<ChildSpec>;
  pid: Pid | undefined;
}

type SupRequest =
  | { type: '$sup_which' }
  | { type: '$sup_terminate'; id: string }
  | { type: '$sup_restart'; id: string }
  | { type: '$sup_start'; spec: ChildSpec }
  | { type: '$sup_delete'; id: string }
  | { type: '$sup_stop'; reason: unknown };

type SupReply =
  | { ok: true; value: unknown }
  | { ok: false; code: 'not_found' | 'already_running' | 'invalid_argument'; message: string };

interface RetryMessage {
  type: '$sup_retry';
  ids: string[];
}

function normalise(spec: ChildSpec): Required<ChildSpec> {
  if (typeof spec !== 'object' || spec === null)
    throw new ActorError('invalid_argument', 'a child spec must be an object');
  if (typeof spec.id !== 'string' || spec.id.length === 0)
    throw new ActorError('invalid_argument', 'a child spec needs a non-empty string id');
  if (typeof spec.start !== 'function')
    throw new ActorError('invalid_argument', `child '${spec.id}' needs a start function`);
  const restart = spec.restart ?? 'permanent';
  if (!['permanent', 'transient', 'temporary'].includes(restart)) {
    throw new ActorError(
      'invalid_argument',
      `child '${spec.id}': restart must be permanent, transient or temporary`,
    );
  }
  const type = spec.type ?? 'worker';
  if (type !== 'worker' && type !== 'supervisor')
    throw new ActorError(
      'invalid_argument',
      `child '${spec.id}': type must be worker or supervisor`,
    );
  const shutdown = spec.shutdown ?? (type === 'supervisor' ? 'infinity' : 5000);
  if (
    !(
      shutdown === 'brutal_kill' ||
      shutdown === 'infinity' ||
      (typeof shutdown === 'number' && shutdown >= 0)
    )
  ) {
    throw new ActorError(
      'invalid_argument',
      `child '${spec.id}': shutdown must be ms >= 0, 'brutal_kill' or 'infinity'`,
    );
  }
  return { id: spec.id, start: spec.start, restart, type, shutdown };
}

function checkOptions(options: SupervisorOptions): Required<Omit<SupervisorOptions, 'name'>> {
  const strategy = options.strategy ?? 'one_for_one';
  if (!['one_for_one', 'one_for_all', 'rest_for_one'].includes(strategy)) {
    throw new ActorError('invalid_argument', `unknown strategy '${String(strategy)}'`);
  }
  const maxRestarts = options.maxRestarts ?? 3;
  const periodMs = options.periodMs ?? 5000;
  if (!Number.isInteger(maxRestarts) || maxRestarts < 0)
    throw new ActorError('invalid_argument', 'maxRestarts must be an integer >= 0');
  if (typeof periodMs !== 'number' || !(periodMs > 0))
    throw new ActorError('invalid_argument', 'periodMs must be > 0');
  return { strategy, maxRestarts, periodMs, clock: options.clock ?? (() => performance.now()) };
}

function shouldRestart(restart: RestartType, reason: unknown): boolean {
  if (restart === 'permanent') return true;
  if (restart === 'temporary') return false;
  return !isCleanExit(reason);
}

async function startOne(child: Child): Promise<Pid> {
  const pid = await child.spec.start();
  if (!(pid instanceof Pid))
    throw new Error(`child '${child.spec.id}': start returned ${String(pid)}, not a pid`);
  link(pid); // trapping exits: a child that is already dead arrives as an EXIT message
  child.pid = pid;
  return pid;
}

/** Stops one child: 'shutdown' first, 'kill' after its shutdown time (OTP's procedure). */
async function stopOne(child: Child): Promise<void> {
  const pid = child.pid;
  if (!pid) return;
  child.pid = undefined;
  const ref = monitor(pid);
  unlink(pid);
  // Drop an EXIT it may already have sent: it is no longer a running child.
  while ((await receive((m) => isExit(m) && m.from.equals(pid), 0)) !== TIMEOUT) {}
  const shutdown = child.spec.shutdown;
  if (shutdown === 'brutal_kill') {
    exit(pid, 'kill');
  } else {
    exit(pid, 'shutdown');
    const timeoutMs = shutdown === 'infinity' ? Number.POSITIVE_INFINITY : shutdown;
    const down = await receive((m) => isDown(m) && m.ref.equals(ref), timeoutMs);
    if (down !== TIMEOUT) return;
    exit(pid, 'kill');
  }
  await receive((m) => isDown(m) && m.ref.equals(ref));
  demonitor(ref, { flush: true });
}

async function supervise(
  specs: Array<Required<ChildSpec>>,
  options: Required<Omit<SupervisorOptions, 'name'>>,
  parent: Pid,
): Promise<void> {
  trapExit(true);
  const log = logger().child({ supervisor: String(self()) });
  let children: Child[] = specs.map((spec) => ({ spec, pid: undefined }));
  let restarts: number[] = [];

  const stopAll = async (): Promise<void> => {
    for (const child of [...children].reverse()) await stopOne(child);
  };

  const giveUp = async (): Promise<never> => {
    log.error(
      { maxRestarts: options.maxRestarts, periodMs: options.periodMs },
      'supervisor reached its maximum restart intensity; shutting down',
    );
    await stopAll();
    throw new ExitSignal(MAX_INTENSITY_REASON);
  };

  // Records a restart; false if that exceeds the intensity (more than maxRestarts in periodMs).
  const allowRestart = (): boolean => {
    const now = options.clock();
    restarts = restarts.filter((t) => now - t < options.periodMs);
    restarts.push(now);
    return restarts.length <= options.maxRestarts;
  };

  // Starts the given children in order; on a failure, schedules a retry of the rest.
  const startList = async (list: Child[]): Promise<void> => {
    for (let i = 0; i < list.length; i++) {
      const child = list[i]!;
      if (!children.includes(child)) continue;
      try {
        await startOne(child);
      } catch (err) {
        log.error(
          { child: child.spec.id, reason: formatReason(err) },
          'child failed to restart; will retry',
        );
        const retry: RetryMessage = {
          type: '$sup_retry',
          ids: list.slice(i).map((c) => c.spec.id),
        };
        send(self(), retry);
        return;
      }
    }
  };

  const restartFor = async (failed: Child): Promise<void> => {
    const index = children.indexOf(failed);
    let affected: Child[];
    if (options.strategy === 'one_for_one') affected = [failed];
    else if (options.strategy === 'one_for_all') affected = [...children];
    else affected = children.slice(index);
    for (const child of [...affected].reverse()) if (child !== failed) await stopOne(child);
    // Temporary children stopped by the strategy are not restarted (OTP).
    const dropped = affected.filter((c) => c !== failed && c.spec.restart === 'temporary');
    children = children.filter((c) => !dropped.includes(c));
    await startList(affected.filter((c) => !dropped.includes(c)));
  };

  for (const child of children) {
    try {
      await startOne(child);
    } catch (err) {
      log.error({ child: child.spec.id, reason: formatReason(err) }, 'child failed to start');
      await stopAll();
      throw new ExitSignal({ shutdown: { failedToStartChild: child.spec.id, reason: err } });
    }
  }

  const answer = (msg: CallMessage, value: SupReply): void => reply(msg.from, value);

  for (;;) {
    const msg = await receive();
    if (isExit(msg)) {
      if (msg.from.equals(parent)) {
        await stopAll();
        throw new ExitSignal(msg.reason);
      }
      const child = children.find((c) => c.pid?.equals(msg.from));
      if (!child) continue; // a stale EXIT of a child already replaced, or a stranger's link
      child.pid = undefined;
      if (!shouldRestart(child.spec.restart, msg.reason)) {
        if (child.spec.restart === 'temporary') children = children.filter((c) => c !== child);
        continue;
      }
      log.warn(
        {
          child: child.spec.id,
          pid: String(msg.from),
          reason: formatReason(msg.reason),
          strategy: options.strategy,
        },
        'child exited; restarting',
      );
      supervisorRestarts.inc({ strategy: options.strategy });
      if (!allowRestart()) await giveUp();
      await restartFor(child);
      continue;
    }
    if (isRetry(msg)) {
      const list = msg.ids
        .map((id) => children.find((c) => c.spec.id === id))
        .filter((c): c is Child => c !== undefined && c.pid === undefined);
      if (list.length === 0) continue;
      if (!allowRestart()) await giveUp();
      await startList(list);
      continue;
    }
    if (!isCall(msg)) continue;
    const request = msg.request as SupRequest;
    const find = (id: string) => children.find((c) => c.spec.id === id);
    switch (request.type) {
      case '$sup_which':
        answer(msg, {
          ok: true,
          value: children.map(
            (c) =>
              ({
                id: c.spec.id,
                pid: c.pid,
                type: c.spec.type,
                restart: c.spec.restart,
              }) satisfies ChildInfo,
          ),
        });
        break;
      case '$sup_terminate': {
        const child = find(request.id);
        if (!child) {
          answer(msg, failure('not_found', `no child '${request.id}'`));
          break;
        }
        await stopOne(child);
        if (child.spec.restart === 'temporary') children = children.filter((c) => c !== child);
        answer(msg, { ok: true, value: undefined });
        break;
      }
      case '$sup_restart': {
        const child = find(request.id);
        if (!child) answer(msg, failure('not_found', `no child '${request.id}'`));
        else if (child.pid) {
          answer(
            msg,
            failure('already_running', `child '${request.id}' is running as ${child.pid}`),
          );
        } else answer(msg, await tryStart(child));
        break;
      }
      case '$sup_start': {
        let spec: Required<ChildSpec>;
        try {
          spec = normalise(request.spec);
        } catch (err) {
          answer(msg, failure('invalid_argument', (err as Error).message));
          break;
        }
        if (find(spec.id)) {
          answer(msg, failure('already_running', `a child with id '${spec.id}' already exists`));
          break;
        }
        const child: Child = { spec, pid: undefined };
        const result = await tryStart(child);
        if (result.ok) children.push(child);
        answer(msg, result);
        break;
      }
      case '$sup_delete': {
        const child = find(request.id);
        if (!child) answer(msg, failure('not_found', `no child '${request.id}'`));
        else if (child.pid) {
          answer(
            msg,
            failure('already_running', `child '${request.id}' is running; terminate it first`),
          );
        } else {
          children = children.filter((c) => c !== child);
          answer(msg, { ok: true, value: undefined });
        }
        break;
      }
      case '$sup_stop':
        await stopAll();
        throw new ExitSignal(request.reason);
      default:
        answer(msg, failure('invalid_argument', 'unknown supervisor request'));
    }
  }
}

function failure(
  code: 'not_found' | 'already_running' | 'invalid_argument',
  message: string,
): SupReply {
  return { ok: false, code, message };
}

/** Starts a child for a request; a start that throws becomes an invalid_argument reply. */
async function tryStart(child: Child): Promise<SupReply> {
  try {
    return { ok: true, value: await startOne(child) };
  } catch (err) {
    return failure(
      'invalid_argument',
      `child '${child.spec.id}' failed to start: ${formatReason(err)}`,
    );
  }
}

function isRetry(msg: unknown): msg is RetryMessage {
  return (
    typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === '$sup_retry'
  );
}

function start(children: ChildSpec[], options: SupervisorOptions, linked: boolean): Pid {
  if (!Array.isArray(children))
    throw new ActorError('invalid_argument', 'Supervisor.start expects an array of child specs');
  const specs = children.map(normalise);
  const ids = new Set<string>();
  for (const spec of specs) {
    if (ids.has(spec.id))
      throw new ActorError('invalid_argument', `duplicate child id '${spec.id}'`);
    ids.add(spec.id);
  }
  const checked = checkOptions(options);
  return spawnOpt(supervise, [specs, checked, self()], {
    link: linked,
    label: 'Supervisor',
    name: options.name,
  });
}

async function request(sup: Dest, req: SupRequest, timeoutMs: number): Promise<unknown> {
  const answer = await call<SupReply>(sup, req, timeoutMs);
  if (!answer.ok) throw new ActorError(answer.code, answer.message);
  return answer.value;
}

/** Supervisors in the shape of Elixir's Supervisor (one_for_one, one_for_all, rest_for_one). */
export const Supervisor = {
  /** Starts a supervisor and its children (in order, in the new process). Returns its pid at once. */
  start(children: ChildSpec[], options: SupervisorOptions = {}): Pid {
    return start(children, options, false);
  },
  /** As start, linked to the caller (use this for a supervisor under another supervisor). */
  startLink(children: ChildSpec[], options: SupervisorOptions = {}): Pid {
    return start(children, options, true);
  },
  async whichChildren(sup: Dest, timeoutMs = 5000): Promise<ChildInfo[]> {
    return (await request(sup, { type: '$sup_which' }, timeoutMs)) as ChildInfo[];
  },
  async countChildren(
    sup: Dest,
    timeoutMs = 5000,
  ): Promise<{ specs: number; active: number; workers: number; supervisors: number }> {
    const list = await Supervisor.whichChildren(sup, timeoutMs);
    return {
      specs: list.length,
      active: list.filter((c) => c.pid !== undefined).length,
      workers: list.filter((c) => c.type === 'worker').length,
      supervisors: list.filter((c) => c.type === 'supervisor').length,
    };
  },
  /** Stops a child; its spec stays (except a temporary child's) so restartChild can start it. */
  async terminateChild(sup: Dest, id: string, timeoutMs = 30_000): Promise<void> {
    await request(sup, { type: '$sup_terminate', id }, timeoutMs);
  },
  async restartChild(sup: Dest, id: string, timeoutMs = 30_000): Promise<Pid> {
    return (await request(sup, { type: '$sup_restart', id }, timeoutMs)) as Pid;
  },
  async startChild(sup: Dest, spec: ChildSpec, timeoutMs = 30_000): Promise<Pid> {
    return (await request(sup, { type: '$sup_start', spec }, timeoutMs)) as Pid;
  },
  async deleteChild(sup: Dest, id: string, timeoutMs = 5000): Promise<void> {
    await request(sup, { type: '$sup_delete', id }, timeoutMs);
  },
  /** Stops every child (in reverse start order), then the supervisor, with `reason`. */
  async stop(sup: Dest, reason: unknown = 'normal', timeoutMs = 30_000): Promise<void> {
    try {
      await call(sup, { type: '$sup_stop', reason } satisfies SupRequest, timeoutMs);
    } catch (err) {
      if (err instanceof ActorError && err.code === 'exit' && err.reason === reason) return;
      throw err;
    }
  },
};
