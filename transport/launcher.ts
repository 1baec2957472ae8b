// Launches node child processes (scripts/node.ts) and kills them: for tests, the course
// harness and the kill-and-restart scripts. Every child dies with its parent.
//
// A node runs precompiled JavaScript, not TypeScript through tsx: on the first launch, this
// process compiles scripts/node.ts and the modules the node loads (--load, `imports`) with
// esbuild (which tsx brings), bundled with the runtime dependencies, into
// node_modules/.cache/actorcluster-node/<hash of the sources and entry points>/, or finds them
// there, and starts `node <that>/scripts/node.js`. tsx starting up and compiling on the fly, and
// Node.js reading hundreds of small package files, cost each node most of its start-up. A node
// loading a module outside actors/, transport/, apps/, scripts/, examples/ or test/ runs through
// tsx as before, and so does every node if the compile fails or ACTORCLUSTER_NODE_COMPILE=0.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ActorError } from '../actors/errors.ts';
import { logger } from '../actors/log.ts';
import { NODE_START_TIMEOUT_MS, NODE_STOP_GRACE_MS } from './timeouts.ts';

/** Set for a compiled node: the directory of its JavaScript, and the sources' root. */
const COMPILED_ROOT_ENV = 'ACTORCLUSTER_COMPILED_ROOT';
const SOURCE_ROOT_ENV = 'ACTORCLUSTER_SOURCE_ROOT';
/** `0` launches every node through tsx (no compiled JavaScript). */
export const NODE_COMPILE_ENV = 'ACTORCLUSTER_NODE_COMPILE';
/** The project root (a compiled node runs from the cache, so it is told). */
const SOURCE_ROOT = process.env[SOURCE_ROOT_ENV] ?? fileURLToPath(new URL('..', import.meta.url));
const NODE_SCRIPT = join(SOURCE_ROOT, 'scripts', 'node.ts');
/** The folders whose .ts files a node may run compiled (all of them, tests aside, key the cache). */
const COMPILED_DIRS = ['actors', 'transport', 'apps', 'scripts', 'examples', 'test'];
const CACHE_DIR = join(SOURCE_ROOT, 'node_modules', '.cache', 'actorcluster-node');
/** Part of the cache key: bump when the compile's options change. */
const COMPILE_FORMAT = 2;
/** Compiled trees not used for this long are removed (by the next compile). */
const CACHE_KEEP_MS = 24 * 3600_000;
/** How much of a child's output is kept for error messages. */
const OUTPUT_KEEP_CHARS = 20_000;

export interface LaunchOptions {
  /** Short node name. */
  name: string;
  /** Port to listen on (default 0: a free one). */
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** The address peers dial, `host` or `host:port` (default: the listening address). */
  advertise?: string;
  /** A directory made by `npm run certs`: wss:// with mutual TLS. */
  tls?: string;
  /** Allow a listen beyond loopback without TLS. */
  insecure?: boolean;
  /**
   * Run the node inside this Linux network namespace (`ip netns exec NS`; needs root and the
   * namespace to exist).
   */
  netns?: string;
  /** Nodes to join: full names, or `host:port` addresses (then every member is linked). */
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
  /**
   * Other modules (paths) the node will import, e.g. the Paxos a course participant loads: if
   * one is not in the compiled tree, the node runs through tsx. Such imports go through
   * runnablePath on the node.
   */
  imports?: string[];
  /** false: run the node's TypeScript through tsx even if it could run compiled. */
  compiled?: boolean;
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
  /**
   * SIGTERM, then waits for the exit; a node still running after `graceMs` (default
   * NODE_STOP_GRACE_MS: 10 s, scaled) is killed (SIGKILL, logged as a warning). Resolves with
   * the exit code (null if killed).
   */
  stop(graceMs?: number): Promise<number | null>;
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

/** The .ts source files under COMPILED_DIRS (tests excluded), relative to the root, sorted. */
function sourceFiles(): string[] {
  const files: string[] = [];
  const walk = (rel: string) => {
    const abs = join(SOURCE_ROOT, rel);
    if (!existsSync(abs)) return;
    for (const entry of readdirSync(abs, { withFileTypes: true })) {
      const path = join(rel, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules' && !entry.name.startsWith('.')) walk(path);
      } else if (
        entry.name.endsWith('.ts') &&
        !entry.name.endsWith('.d.ts') &&
        !entry.name.endsWith('.test.ts')
      ) {
        files.push(path);
      }
    }
  };
  for (const dir of COMPILED_DIRS) walk(dir);
  return files.sort();
}

/** Packages with native code: imported from node_modules at run time, not bundled. */
const NATIVE_PACKAGES = new Set(['lmdb', 'msgpackr']);

/** The project's runtime dependencies (package.json `dependencies`). */
function dependencies(): Set<string> {
  const pkg = JSON.parse(readFileSync(join(SOURCE_ROOT, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  return new Set(Object.keys(pkg.dependencies ?? {}));
}

interface PluginBuild {
  onResolve(
    options: { filter: RegExp },
    callback: (args: { path: string; importer: string }) => { external: true } | undefined,
  ): void;
}

/**
 * Which packages are bundled: the runtime dependencies and what they import (a node then reads
 * a few files, not the hundreds of small CommonJS files pino, prom-client and the rest are
 * made of: that reading was most of a node's start-up), but not NATIVE_PACKAGES. Any other
 * package a source imports (vitest in a test helper, say) stays an import.
 */
function packagesPlugin(bundled: Set<string>) {
  return (build: PluginBuild) => {
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (args.path.startsWith('node:')) return undefined;
      const parts = args.path.split('/');
      const name = args.path.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
      if (NATIVE_PACKAGES.has(name)) return { external: true };
      if (args.importer.includes(`${sep}node_modules${sep}`) || bundled.has(name)) return undefined;
      return { external: true };
    });
  };
}

/** What this file uses of esbuild's API. */
interface Esbuild {
  version: string;
  build(options: Record<string, unknown>): Promise<unknown>;
}

/** Compiles the sources into the cache (once per content: the directory is named by its hash). */
async function compile(entries: string[]): Promise<string> {
  // esbuild is tsx's own dependency (tsx compiles with it): resolved from tsx, not hoisted.
  const esbuild = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'))(
    'esbuild',
  ) as Esbuild;
  const files = sourceFiles();
  const hash = createHash('sha256').update(`${COMPILE_FORMAT}\0${esbuild.version}\0`);
  // The settings, and the installed packages that get bundled (package-lock.json).
  for (const file of ['tsconfig.json', 'package.json', 'package-lock.json']) {
    const path = join(SOURCE_ROOT, file);
    if (existsSync(path)) hash.update(readFileSync(path));
  }
  for (const file of files)
    hash.update(`\0${file}\0`).update(readFileSync(join(SOURCE_ROOT, file)));
  hash.update(`\0entries\0${entries.join('\0')}`);
  const out = join(CACHE_DIR, hash.digest('hex').slice(0, 20));
  const done = join(out, 'package.json');
  if (existsSync(done)) return out;
  // Built beside, then renamed into place: concurrent compiles (test workers) never see half a tree.
  const tmp = `${out}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await esbuild.build({
      entryPoints: entries.map((file) => join(SOURCE_ROOT, file)),
      outdir: tmp,
      outbase: SOURCE_ROOT,
      // One output file per source (its path, .js), the code they share in chunks: every module
      // is in one file only, so the runtime a node runs and the Paxos it loads by path are one.
      bundle: true,
      splitting: true,
      chunkNames: '_chunks/[name]-[hash]',
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: true,
      logLevel: 'silent',
      // Bundled CommonJS packages require Node's built-ins.
      banner: {
        js: "import { createRequire as __nodeRequire } from 'node:module'; const require = __nodeRequire(import.meta.url);",
      },
      plugins: [{ name: 'packages', setup: packagesPlugin(dependencies()) }],
    });
    // The tree is ESM (node_modules/.cache has no package.json of its own saying so).
    writeFileSync(join(tmp, 'package.json'), '{ "type": "module" }\n');
    try {
      renameSync(tmp, out);
    } catch (err) {
      if (!existsSync(done)) throw err; // else another process compiled the same sources first
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  pruneCache(out);
  return out;
}

/** Removes compiled trees (and leftovers of crashed compiles) not touched for CACHE_KEEP_MS. */
function pruneCache(keep: string): void {
  for (const name of readdirSync(CACHE_DIR)) {
    const path = join(CACHE_DIR, name);
    try {
      if (path !== keep && Date.now() - statSync(path).mtimeMs > CACHE_KEEP_MS)
        rmSync(path, { recursive: true, force: true });
    } catch {
      // another process removed it first
    }
  }
}

const compiledTrees = new Map<string, Promise<string | null>>();

/**
 * The compiled tree for these entry points (.ts paths; compiled on first use, then cached on
 * disk), or null if nodes must run through tsx: ACTORCLUSTER_NODE_COMPILE=0, an entry point
 * that is not a .ts file under actors/, transport/, apps/, scripts/, examples/ or test/, or the
 * compile failed. The tree holds each entry point as <root>/<its path, .js>, and chunks.
 */
export function compiledRoot(entryPoints: string[]): Promise<string | null> {
  const entries = [
    ...new Set(entryPoints.map((path) => relative(SOURCE_ROOT, resolve(path)))),
  ].sort();
  const key = entries.join('\0');
  let tree = compiledTrees.get(key);
  if (!tree) {
    const compilable = entries.every(
      (rel) => rel.endsWith('.ts') && COMPILED_DIRS.includes(rel.split(sep)[0]!),
    );
    tree =
      process.env[NODE_COMPILE_ENV] === '0' || !compilable
        ? Promise.resolve(null)
        : compile(entries).catch((err: unknown) => {
            logger().warn(
              { err },
              `could not compile the node's sources (${(err as Error).message.split('\n')[0]}): nodes run through tsx`,
            );
            return null;
          });
    compiledTrees.set(key, tree);
  }
  return tree;
}

/** The compiled counterpart (.js) of a .ts source path under `root`, if there is one. */
function counterpart(root: string, path: string): string | null {
  const rel = relative(SOURCE_ROOT, resolve(path));
  if (!path.endsWith('.ts') || rel.startsWith('..') || isAbsolute(rel)) return null;
  const js = join(root, `${rel.slice(0, -3)}.js`);
  return existsSync(js) ? js : null;
}

/**
 * The path to import for the module at `path` in this process: on a compiled node, a .ts source
 * of the project maps to its compiled .js (plain Node.js cannot load .ts); elsewhere, `path`.
 */
export function runnablePath(path: string): string {
  const root = process.env[COMPILED_ROOT_ENV];
  return (root && counterpart(root, path)) || path;
}

/** The command line that runs scripts/node.ts: compiled if every module it loads is. */
async function nodeCommand(
  options: LaunchOptions,
): Promise<{ args: string[]; env: NodeJS.ProcessEnv }> {
  const loads = (options.load ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    return { name: spec.slice(0, eq), path: spec.slice(eq + 1) };
  });
  const imports = options.imports ?? [];
  const root =
    options.compiled === false
      ? null
      : await compiledRoot([NODE_SCRIPT, ...loads.map((l) => l.path), ...imports]);
  if (root) {
    const script = counterpart(root, NODE_SCRIPT);
    const mapped = loads.map((l) => counterpart(root, l.path));
    if (script && !mapped.includes(null) && !imports.some((path) => !counterpart(root, path))) {
      const args = [script];
      for (const [i, l] of loads.entries()) args.push('--load', `${l.name}=${mapped[i]}`);
      return { args, env: { [COMPILED_ROOT_ENV]: root, [SOURCE_ROOT_ENV]: SOURCE_ROOT } };
    }
  }
  const args = ['--import', 'tsx', NODE_SCRIPT];
  for (const l of options.load ?? []) args.push('--load', l);
  // A tsx node launched by a compiled one must not inherit the compiled node's settings.
  return { args, env: { [COMPILED_ROOT_ENV]: undefined } };
}

/** Starts `scripts/node.ts` as a child process and resolves once it prints that it is up. */
export async function launchNode(options: LaunchOptions): Promise<LaunchedNode> {
  installExitHook();
  const command = await nodeCommand(options);
  const args = [
    ...(options.execArgv ?? []),
    ...command.args,
    '--name',
    options.name,
    '--port',
    String(options.port ?? 0),
    '--exit-with-parent',
  ];
  for (const j of options.join ?? []) args.push('--join', j);
  if (options.host) args.push('--host', options.host);
  if (options.advertise) args.push('--advertise', options.advertise);
  if (options.tls) args.push('--tls', options.tls);
  if (options.insecure) args.push('--insecure-plain');
  if (options.heartbeatIntervalMs) args.push('--heartbeat-ms', String(options.heartbeatIntervalMs));
  if (options.nodeDownAfterMs) args.push('--down-after-ms', String(options.nodeDownAfterMs));
  args.push(...(options.args ?? []));
  const [file, argv] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, process.execPath, ...args]]
    : [process.execPath, args];
  const child = spawn(file, argv, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: {
      LOG_LEVEL: 'warn',
      ...process.env,
      ...options.env,
      ...command.env,
      ACTORCLUSTER_COOKIE: options.cookie,
    },
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
        stop: async (graceMs = NODE_STOP_GRACE_MS) => {
          if (child.exitCode !== null || child.signalCode !== null) return exited;
          child.kill('SIGTERM');
          const timer = setTimeout(() => {
            logger().warn(
              { node: name, graceMs },
              'node did not exit within its grace period after SIGTERM: killed',
            );
            child.kill('SIGKILL');
          }, graceMs);
          try {
            return await exited;
          } finally {
            clearTimeout(timer);
          }
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
