// Helpers for multi-node tests: this vitest worker becomes node `t`, children are real node
// processes on 127.0.0.1 (port 0), all killed when the file ends.
import { afterAll } from 'vitest';
import { type Pid, receive, TIMEOUT } from '../../actors/index.ts';
import { type LaunchedNode, type LaunchOptions, launchNode, Node } from '../../transport/index.ts';
import { WAIT_MS } from '../helpers.ts';

export const COOKIE = 'test-cookie-0123456789';
export const HEARTBEAT_MS = 100;
export const DOWN_AFTER_MS = 800;
export const FIXTURES = 'Fx=test/transport/fixtures.ts';

const launched: LaunchedNode[] = [];

afterAll(async () => {
  for (const n of launched) n.kill('SIGKILL');
  await Promise.all(launched.map((n) => n.exited));
  await Node.stop();
});

/** Makes this test process a node (once per file). */
export async function startHere(name = 't'): Promise<string> {
  return Node.start({
    name,
    cookie: COOKIE,
    heartbeatIntervalMs: HEARTBEAT_MS,
    nodeDownAfterMs: DOWN_AFTER_MS,
  });
}

/** Launches a child node that joins this one and loads the fixtures. */
export async function launch(
  name: string,
  extra: Partial<LaunchOptions> = {},
): Promise<LaunchedNode> {
  const node = await launchNode({
    name,
    cookie: COOKIE,
    join: [Node.self()],
    load: [FIXTURES],
    heartbeatIntervalMs: HEARTBEAT_MS,
    nodeDownAfterMs: DOWN_AFTER_MS,
    ...extra,
  });
  launched.push(node);
  return node;
}

/** Makes this process node `t` and launches one child node per name (joined, fixtures loaded). */
export async function startWithPeers<const N extends readonly string[]>(
  ...names: N
): Promise<{ [K in keyof N]: LaunchedNode }> {
  await startHere();
  return (await Promise.all(names.map((name) => launch(name)))) as { [K in keyof N]: LaunchedNode };
}

/** Receives a message matching `pattern` or fails the test after `timeoutMs` (scaled). */
export async function expectMessage<T = Record<string, unknown>>(
  pattern: object | ((m: unknown) => boolean),
  timeoutMs = WAIT_MS,
): Promise<T> {
  const msg = await receive(pattern, timeoutMs);
  if (msg === TIMEOUT)
    throw new Error(
      `no message matching ${typeof pattern === 'function' ? 'predicate' : JSON.stringify(pattern)} within ${timeoutMs} ms`,
    );
  return msg as T;
}

export function isPidMsg(m: unknown): m is { pid: Pid } {
  return typeof m === 'object' && m !== null && 'pid' in m;
}
