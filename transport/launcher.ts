// Launches node child processes (scripts/node.ts) and kills them: for tests, the course
// harness and the kill-and-restart scripts. Every child dies with its parent.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ActorError } from '../actors/errors.ts';
import { NODE_START_TIMEOUT_MS } from './timeouts.ts';

const NODE_SCRIPT = fileURLToPath(new URL('../scripts/node.ts', import.meta.url));
/** How much of a child's output is kept for error messages. */
const OUTPUT_KEEP_CHARS = 20_000;

export interface LaunchOptions {
  /** Short node name. */
  name: string;
  /** Port to listen on (default 0: a free one). */
  port?: number;
  /** Full names of nodes to join. */
  join?: string[];
  cookie: string;
  /** Modules to load for spawnOn, as `Name=path/to/module.ts`. */
  load?: string[];
  heartbeatIntervalMs?: number;
  nodeDownAfterMs?: number;
  /** Extra environment (LOG_LEVEL defaults to warn). */
  env?: NodeJS.ProcessEnv;
  /** Extra arguments for scripts/node.ts. */
  args?: string[];
  /** Extra Node.js runtime flags, e.g. ['--cpu-prof'] to profile the node. */
  execArgv?: string[];
  /** How long to wait for the node to come up (default NODE_START_TIMEOUT_MS: 30 s, scaled). */
  startTimeoutMs?: number;
}

export interface LaunchedNode {
  /** Full node name, as the node printed it. */
  readonly name: string;
  /** The OS process id. */
  readonly osPid: number;
  /** Resolves with the exit code (null if killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Sends a signal (default SIGKILL: a crash, no goodbye to peers). */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<number | null>;
  /** What the node printed (stdout and stderr), last 20k characters. */
  output(): string;
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

/** Starts `scripts/node.ts` as a child process and resolves once it prints that it is up. */
export function launchNode(options: LaunchOptions): Promise<LaunchedNode> {
  installExitHook();
  const args = [
    ...(options.execArgv ?? []),
    '--import',
    'tsx',
    NODE_SCRIPT,
    '--name',
    options.name,
    '--port',
    String(options.port ?? 0),
    '--exit-with-parent',
  ];
  for (const j of options.join ?? []) args.push('--join', j);
  for (const l of options.load ?? []) args.push('--load', l);
  if (options.heartbeatIntervalMs) args.push('--heartbeat-ms', String(options.heartbeatIntervalMs));
  if (options.nodeDownAfterMs) args.push('--down-after-ms', String(options.nodeDownAfterMs));
  args.push(...(options.args ?? []));
  const child = spawn(process.execPath, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { LOG_LEVEL: 'warn', ...process.env, ...options.env, ACTORCLUSTER_COOKIE: options.cookie },
  });
  children.add(child);
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_KEEP_CHARS);
  };
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      children.delete(child);
      resolve(code);
    });
  });
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new ActorError(
          'timeout',
          `node ${options.name} did not come up in time; it printed:\n${output}`,
        ),
      );
    }, options.startTimeoutMs ?? NODE_START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      buffered += chunk.toString();
      const m = /node (\S+) is up/.exec(buffered);
      if (!m) return;
      buffered = '';
      clearTimeout(timer);
      const name = m[1]!;
      resolve({
        name,
        osPid: child.pid!,
        exited,
        kill: (signal = 'SIGKILL') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        },
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return exited;
        },
        output: () => output,
      });
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new ActorError(
          'noconnection',
          `node ${options.name} exited (code ${code}) before it was up; it printed:\n${output}`,
        ),
      );
    });
  });
}
