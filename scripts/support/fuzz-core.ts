// The core of `npm run fuzz` (and of test/transport/fuzz.test.ts): launches a target node as a
// child process, makes this process the node `fuzzer`, puts state on the target, then throws
// garbage, forged handshakes and abusive connections at the target's port from raw `ws`
// clients and raw TCP sockets, checking every so often (and at the end) that the target still
// serves with its state intact. Seeded: case i is generated from (seed, i) alone, so a run
// replays the same cases whatever the interleaving.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type Socket, connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pack } from 'msgpackr';
import { WebSocket } from 'ws';
import { call, kill, Pid, Ref, receive, self, send, spawn, TIMEOUT } from '../../actors/index.ts';
import { Encoder } from '../../transport/codec.ts';
import { hash32, seededRandom } from '../../transport/faults.ts';
import {
  type Challenge,
  decodeHandshake,
  encodeHandshake,
  HANDSHAKE_FRAME_BYTES_MAX,
  type HandshakeMsg,
  PROTOCOL_VERSION,
  proofOf,
} from '../../transport/handshake.ts';
import { type LaunchedNode, launchNode, Node, spawnOn } from '../../transport/index.ts';
import { parseFullName } from '../../transport/names.ts';

export const CASE_KINDS = [
  'random-binary',
  'random-text',
  'tcp-garbage',
  'truncated-upgrade',
  'bad-hello',
  'wrong-version',
  'forged-proof',
  'replay',
  'early-frames',
  'truncated-frame',
  'bad-ws-frame',
  'oversized-frame',
  'authed-garbage',
  'churn',
] as const;
export type CaseKind = (typeof CASE_KINDS)[number];

/** What each kind throws at the target (for --help and the summary). */
export const CASE_DESCRIPTIONS: Record<CaseKind, string> = {
  'random-binary': 'random binary ws messages (0 bytes to 64 KiB) before the handshake',
  'random-text': 'random text ws messages (also invalid UTF-8) before the handshake',
  'tcp-garbage': 'raw TCP bytes that are not an HTTP upgrade (junk, plain GET, huge headers)',
  'truncated-upgrade': 'HTTP upgrade requests cut short, dribbled, half-closed or invalid',
  'bad-hello': 'hello frames with missing or mistyped fields, bad or duplicate names',
  'wrong-version': 'well-formed hello frames with another protocol version',
  'forged-proof': 'forged HMAC proofs: random, wrong cookie, wrong role/nonce/names, reflected',
  replay: "a real handshake's frames replayed on a new connection (fresh nonces: refused)",
  'early-frames': 'signal and rpc frames sent before the handshake completes',
  'truncated-frame': 'ws frames cut short in the header, the mask or the payload',
  'bad-ws-frame': 'ws protocol violations: unmasked, reserved bits/opcodes, bad control frames',
  'oversized-frame': 'frames over frameBytesMax (declared and real), before and after auth',
  'authed-garbage': 'malformed frames (and odd signals) on an authenticated link',
  churn: 'up to 50 connections opened and dropped at once',
};

/** The target's frameBytesMax: the default (scripts/node.ts has no option to change it). */
export const TARGET_FRAME_BYTES_MAX = 16 * 1024 * 1024;
/** The target's handshake timeout (connectTimeoutMs default). */
const HANDSHAKE_TIMEOUT_MS = 3000;
/** A connection the target should end must be closed by then. */
const CLOSE_DEADLINE_MS = HANDSHAKE_TIMEOUT_MS + 3000;
/** A case running longer than this is reported as hung. */
const CASE_TIMEOUT_MS = 20_000;
/** Connections one churn case opens at most (the target cuts beyond 64 pending handshakes). */
export const CHURN_MAX = 50;
const CHECK_CALL_TIMEOUT_MS = 5000;
const TARGET = 'target';
const FUZZER = 'fuzzer';
const GLOBAL_NAME = 'fuzz:store';
const CANARY_GLOBAL = 'fuzz:canary';
const FNS_MODULE = `FuzzFns=${fileURLToPath(new URL('./fuzz-fns.ts', import.meta.url))}`;

export interface FuzzOptions {
  seed: number;
  /** Fuzz for this long (default 10 s) unless `cases` is given. */
  durationMs?: number;
  /** Run exactly this many cases. */
  cases?: number;
  /** Cases in flight at once (default 4). */
  concurrency?: number;
  /** Check the target this often while fuzzing (default 2000 ms). */
  checkEveryMs?: number;
  /** Only these kinds (default all). */
  kinds?: readonly CaseKind[];
  /** LOG_LEVEL of the target node (default warn: it logs every refusal). */
  targetLogLevel?: string;
  /** Called every second while fuzzing. */
  onProgress?: (progress: FuzzProgress) => void;
  /** Called once the target is launched (tests use it to kill it whatever happens). */
  onTarget?: (target: LaunchedNode) => void;
  /** Stops fuzzing early (SIGINT): the final check and the cleanup still run. */
  signal?: AbortSignal;
}

export interface FuzzCounts {
  cases: number;
  byKind: Record<CaseKind, number>;
  /** Cases that ran to their end (not cut by the target before they could start). */
  completed: Record<CaseKind, number>;
  /** Cases whose connection the target cut before the case could start (busy). */
  cut: number;
  /** Connections opened (ws and TCP). */
  connections: number;
  /** Connections the target refused or closed (rather than the fuzzer). */
  refused: number;
  /** Refusal reasons the target sent, and HTTP statuses, by count. */
  reasons: Record<string, number>;
  /** WebSocket close codes the target sent, by count. */
  closeCodes: Record<string, number>;
  checks: number;
  checksFailed: number;
}

export interface FuzzProgress extends FuzzCounts {
  elapsedMs: number;
  failures: number;
}

export interface Failure {
  /** The case index (replay with the same --seed), or undefined for checks and setup. */
  index?: number;
  kind: CaseKind | 'check' | 'setup' | 'target';
  detail: string;
}

export interface FuzzReport extends FuzzCounts {
  seed: number;
  elapsedMs: number;
  target: string;
  targetAlive: boolean;
  stateIntact: boolean;
  /** Times the fuzzer's own authenticated link to the target went down. */
  linkDrops: number;
  interrupted: boolean;
  failures: Failure[];
  /** The end of the target's output, when something failed. */
  targetOutput: string;
  /** The target's resident memory in MiB (Linux only: null elsewhere). */
  targetRssMiB: { start: number; peak: number; end: number } | null;
}

// ---- the run -------------------------------------------------------------------------------

/**
 * Runs one fuzz session. Makes this process the node `fuzzer` (once per process: Node.start
 * cannot run twice), launches the target, fuzzes, checks, and kills the target at the end.
 */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const started = performance.now();
  const kinds = options.kinds?.length ? [...options.kinds] : [...CASE_KINDS];
  const counts = emptyCounts();
  const failures: Failure[] = [];
  const report: FuzzReport = {
    ...counts,
    seed: options.seed,
    elapsedMs: 0,
    target: '',
    targetAlive: false,
    stateIntact: false,
    linkDrops: 0,
    interrupted: false,
    failures,
    targetOutput: '',
    targetRssMiB: null,
  };
  let target: LaunchedNode | null = null;
  let targetExit: number | null | undefined;
  let watcher: Pid | null = null;
  let run: Run | null = null;
  let progressTimer: NodeJS.Timeout | null = null;
  let rssTimer: NodeJS.Timeout | null = null;
  try {
    const cookie = randomBytes(24).toString('hex');
    const fuzzerName = await Node.start({ name: FUZZER, cookie });
    target = await launchNode({
      name: TARGET,
      cookie,
      load: [FNS_MODULE],
      env: options.targetLogLevel ? { LOG_LEVEL: options.targetLogLevel } : {},
    });
    options.onTarget?.(target);
    report.target = target.name;
    void target.exited.then((code) => {
      targetExit = code;
    });
    if (!(await Node.connect(target.name))) throw new Error(`cannot connect to ${target.name}`);

    // The state: a store on the target, registered locally and globally, holding a value.
    const me = self();
    await spawnOn(target.name, 'FuzzFns.store', [GLOBAL_NAME, me]);
    const stored = await receive<{ stored: boolean; pid: Pid }>(
      (m) => typeof m === 'object' && m !== null && 'stored' in m,
      10_000,
    );
    if (stored === TIMEOUT || !stored.stored) throw new Error('the store did not start');
    const sentinel = { key: `k${options.seed}`, value: { seed: options.seed, at: Date.now() } };
    await call(stored.pid, { op: 'put', key: sentinel.key, value: sentinel.value });
    const drops = { n: 0 };
    const targetName = target.name;
    watcher = spawn(async () => {
      Node.monitorNodes();
      for (;;) {
        const m = await receive<{ type: string; node: string }>();
        if (m.type === 'nodedown' && m.node === targetName) drops.n++;
      }
    });

    run = new Run({
      seed: options.seed,
      port: parseFullName(target.name).port,
      cookie,
      target,
      targetName: target.name,
      fuzzerName,
      store: stored.pid,
      sentinel,
      counts,
      failures,
      isAlive: () => targetExit === undefined && processAlive(target!.osPid),
    });
    const first = await run.check();
    if (first.length > 0) throw new Error(`the target fails its checks before fuzzing: ${first}`);

    // Fuzz.
    let next = 0;
    let stopping = false;
    const stop = () => {
      stopping = true;
      run?.destroyAll();
    };
    const onAbort = () => {
      report.interrupted = true;
      stop();
    };
    options.signal?.addEventListener('abort', onAbort);
    if (options.signal?.aborted) onAbort();
    const fuzzStarted = performance.now();
    const deadline = fuzzStarted + (options.durationMs ?? 10_000);
    const more = () =>
      !stopping &&
      targetExit === undefined &&
      (options.cases !== undefined ? next < options.cases : performance.now() < deadline);
    const worker = async (w: number) => {
      while (more()) {
        const index = next++;
        await run!.runCase(index, w, kinds, () => stopping);
      }
    };
    const progress = (): FuzzProgress => ({
      ...structuredClone(counts),
      elapsedMs: performance.now() - fuzzStarted,
      failures: failures.length,
    });
    const rss0 = rssMiB(target.osPid);
    const rss = rss0 === null ? null : { start: rss0, peak: rss0, end: rss0 };
    report.targetRssMiB = rss;
    const sampleRss = () => {
      const now = rss && target ? rssMiB(target.osPid) : null;
      if (rss && now !== null) {
        rss.peak = Math.max(rss.peak, now);
        rss.end = now;
      }
    };
    progressTimer = setInterval(() => {
      sampleRss();
      options.onProgress?.(progress());
    }, 1000);
    rssTimer = setInterval(sampleRss, 100);
    rssTimer.unref();
    const workers = Array.from({ length: options.concurrency ?? 4 }, (_, w) => worker(w));
    let fuzzing = true;
    const checker = (async () => {
      const every = options.checkEveryMs ?? 2000;
      while (fuzzing) {
        await sleepUnlessDone(every, () => !fuzzing);
        if (!fuzzing || targetExit !== undefined) break;
        const problems = await run!.check();
        if (stopping) break;
        for (const p of problems) failures.push({ kind: 'check', detail: `during fuzzing: ${p}` });
      }
    })();
    await Promise.all(workers);
    fuzzing = false;
    await checker;
    options.signal?.removeEventListener('abort', onAbort);
    clearInterval(progressTimer);
    progressTimer = null;
    clearInterval(rssTimer);
    run.destroyAll();

    // The final check, once every fuzz connection is gone. Not after Ctrl-C: the terminal sent
    // SIGINT to the target too (same process group), and it is stopping.
    if (report.interrupted) return report;
    await new Promise((r) => setTimeout(r, 200));
    const problems = await run.check();
    for (const p of problems) failures.push({ kind: 'check', detail: `at the end: ${p}` });
    sampleRss();
    report.stateIntact = run.stateIntact;
    report.linkDrops = drops.n;
    if (drops.n > 0) {
      failures.push({
        kind: 'target',
        detail: `the fuzzer's authenticated link to the target went down ${drops.n} time(s) during fuzzing`,
      });
    }
  } catch (err) {
    failures.push({ kind: 'setup', detail: (err as Error).message });
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    if (rssTimer) clearInterval(rssTimer);
    run?.destroyAll();
    report.targetAlive = target !== null && targetExit === undefined && processAlive(target.osPid);
    if (target !== null && targetExit !== undefined && !report.interrupted) {
      failures.push({ kind: 'target', detail: `the target exited (code ${targetExit})` });
    }
    if (watcher) kill(watcher);
    if (target !== null) {
      if (failures.length > 0) report.targetOutput = tail(target.output(), 40);
      await stopChild(target);
    }
    await Node.stop();
    Object.assign(report, counts, { elapsedMs: performance.now() - started });
  }
  return report;
}

function emptyCounts(): FuzzCounts {
  return {
    cases: 0,
    byKind: Object.fromEntries(CASE_KINDS.map((k) => [k, 0])) as Record<CaseKind, number>,
    completed: Object.fromEntries(CASE_KINDS.map((k) => [k, 0])) as Record<CaseKind, number>,
    cut: 0,
    connections: 0,
    refused: 0,
    reasons: {},
    closeCodes: {},
    checks: 0,
    checksFailed: 0,
  };
}

/** A process's resident memory in MiB, from /proc (null where there is none). */
function rssMiB(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function stopChild(child: LaunchedNode): Promise<void> {
  child.kill('SIGTERM');
  const exited = await Promise.race([
    child.exited.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 3000).unref()),
  ]);
  if (!exited) {
    child.kill('SIGKILL');
    await child.exited;
  }
}

function sleepUnlessDone(ms: number, done: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const until = performance.now() + ms;
    const tick = () => {
      if (done() || performance.now() >= until) resolve();
      else setTimeout(tick, Math.min(50, until - performance.now()));
    };
    tick();
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Known refusal reasons, so the summary counts them without their specifics. */
const REASONS = [
  'protocol error: expected hello',
  'protocol error: expected proof',
  'protocol version',
  'invalid node name',
  'duplicate name',
  'wrong cookie',
  'simultaneous connect',
];

function reasonKey(reason: string): string {
  return REASONS.find((r) => reason.startsWith(r)) ?? `other: ${reason.slice(0, 60)}`;
}

// ---- summary and progress text -------------------------------------------------------------

export function formatProgress(p: FuzzProgress): string {
  const kinds = CASE_KINDS.filter((k) => p.byKind[k] > 0)
    .map((k) => `${k} ${p.byKind[k]}`)
    .join(', ');
  return (
    `[${(p.elapsedMs / 1000).toFixed(0).padStart(3)} s] ${p.cases} cases (${kinds}); ` +
    `${p.connections} connections, ${p.refused} refused; checks ${p.checks - p.checksFailed}/${p.checks} ok; ` +
    `${p.failures} failures`
  );
}

export function formatReport(r: FuzzReport): string {
  const out: string[] = [];
  out.push(
    `fuzz: seed ${r.seed}, ${(r.elapsedMs / 1000).toFixed(1)} s, target ${r.target || '(none)'}${r.interrupted ? ' (interrupted)' : ''}`,
  );
  out.push(
    `cases run: ${r.cases}${r.cut ? ` (${r.cut} cut by the target before they could start)` : ''}`,
  );
  for (const k of CASE_KINDS) out.push(`  ${k.padEnd(18)} ${String(r.byKind[k]).padStart(6)}`);
  out.push(
    `connections: ${r.connections} opened, ${r.refused} refused or closed by the target`,
    `refusals: ${formatCounts(r.reasons)}`,
    `close codes: ${formatCounts(r.closeCodes)}`,
    `checks: ${r.checks - r.checksFailed}/${r.checks} ok; link drops: ${r.linkDrops}`,
    `target memory (RSS): ${
      r.targetRssMiB
        ? `start ${r.targetRssMiB.start} MiB, peak ${r.targetRssMiB.peak} MiB, end ${r.targetRssMiB.end} MiB`
        : 'unknown'
    }`,
    `target alive: ${r.interrupted ? 'not checked (interrupted)' : r.targetAlive ? 'yes' : 'NO'}`,
    `state intact: ${r.interrupted ? 'not checked (interrupted)' : r.stateIntact ? 'yes' : 'NO'}`,
  );
  if (r.failures.length === 0) out.push('0 failures');
  else {
    out.push(`${r.failures.length} failures:`);
    for (const f of r.failures.slice(0, 50)) {
      out.push(`  ${f.index === undefined ? '' : `case #${f.index} `}[${f.kind}] ${f.detail}`);
    }
    if (r.failures.length > 50) out.push(`  ... and ${r.failures.length - 50} more`);
    if (r.targetOutput) out.push('target output (end):', r.targetOutput);
    out.push(`replay: npm run fuzz -- --seed ${r.seed}`);
  }
  return out.join('\n');
}

function formatCounts(c: Record<string, number>): string {
  const entries = Object.entries(c).sort((a, b) => b[1] - a[1]);
  return entries.length ? entries.map(([k, n]) => `${k} ${n}`).join(', ') : '-';
}

// ---- connections ---------------------------------------------------------------------------

interface Closable {
  destroy(): void;
}

/** A `ws` client to the target: queued messages, close info, who closed. */
class WsConn implements Closable {
  readonly ws: WebSocket;
  readonly opened: Promise<boolean>;
  readonly closed: Promise<void>;
  closeCode: number | null = null;
  byUs = false;
  private readonly inbox: Array<{ data: Buffer; isBinary: boolean }> = [];
  private wake: (() => void) | null = null;

  constructor(url: string, onClose: (conn: WsConn) => void) {
    this.ws = new WebSocket(url, {
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: 1024 * 1024,
    });
    this.ws.on('error', () => {});
    this.ws.on('message', (data, isBinary) => {
      this.inbox.push({ data: toBuffer(data), isBinary });
      this.poke();
    });
    this.opened = new Promise((resolve) => {
      this.ws.once('open', () => resolve(true));
      this.ws.once('close', () => resolve(false));
    });
    this.closed = new Promise((resolve) => {
      this.ws.once('close', (code) => {
        this.closeCode = code;
        onClose(this);
        this.poke();
        resolve();
      });
    });
  }

  get isClosed(): boolean {
    return this.closeCode !== null;
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  send(data: Buffer | string, binary = true): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, { binary }, () => {});
  }

  /** The next message, or null once closed (and drained) or after `timeoutMs`. */
  async next(timeoutMs: number): Promise<{ data: Buffer; isBinary: boolean } | null> {
    const until = performance.now() + timeoutMs;
    while (this.inbox.length === 0) {
      const left = until - performance.now();
      if (this.isClosed || left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.inbox.shift()!;
  }

  /** The underlying socket (to write raw frame bytes after the upgrade). */
  socket(): Socket | null {
    return (this.ws as unknown as { _socket: Socket | null })._socket;
  }

  destroy(): void {
    if (!this.isClosed) this.byUs = true;
    this.ws.terminate();
  }

  close(): void {
    if (!this.isClosed) this.byUs = true;
    try {
      this.ws.close(1000);
    } catch {
      this.ws.terminate();
    }
  }
}

/** A raw TCP connection to the target; after `upgrade()` it parses the server's ws frames. */
class RawConn implements Closable {
  readonly sock: Socket;
  readonly connected: Promise<boolean>;
  readonly closed: Promise<void>;
  isClosed = false;
  byUs = false;
  /** The HTTP response head, once received. */
  response: string | null = null;
  upgraded = false;
  closeCode: number | null = null;
  readonly frames: Array<{ opcode: number; payload: Buffer }> = [];
  private buf: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  constructor(port: number, onClose: (conn: RawConn) => void) {
    this.sock = tcpConnect(port, '127.0.0.1');
    this.sock.on('error', () => {});
    this.sock.on('data', (chunk: Buffer) => this.onData(chunk));
    this.connected = new Promise((resolve) => {
      this.sock.once('connect', () => resolve(true));
      this.sock.once('close', () => resolve(false));
    });
    this.closed = new Promise((resolve) => {
      this.sock.once('close', () => {
        this.isClosed = true;
        onClose(this);
        this.poke();
        resolve();
      });
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    if (this.response === null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > 64 * 1024) this.buf = Buffer.alloc(0);
        this.poke();
        return;
      }
      this.response = this.buf.subarray(0, end).toString('latin1');
      this.upgraded = / 101 /.test(this.response.split('\r\n')[0] ?? '');
      this.buf = this.buf.subarray(end + 4);
    }
    if (this.upgraded) this.parseFrames();
    else this.buf = Buffer.alloc(0);
    this.poke();
  }

  private parseFrames(): void {
    while (this.buf.length >= 2) {
      const b0 = this.buf[0]!;
      const b1 = this.buf[1]!;
      let len = b1 & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (b1 & 0x80) off += 4;
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      const opcode = b0 & 0x0f;
      if (opcode === 8) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.frames.push({ opcode, payload });
      this.buf = this.buf.subarray(off + len);
    }
  }

  write(bytes: Buffer | string): void {
    if (!this.sock.destroyed && this.sock.writable) this.sock.write(bytes, () => {});
  }

  /** Waits until `cond` holds, the socket closes, or `timeoutMs` passes; returns cond(). */
  async waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const until = performance.now() + timeoutMs;
    while (!cond() && !this.isClosed) {
      const left = until - performance.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return cond();
  }

  /** Sends a valid upgrade request and waits for the 101; false if it did not come. */
  async upgrade(port: number): Promise<boolean> {
    if (!(await this.connected)) return false;
    this.write(upgradeRequest(port));
    await this.waitFor(() => this.response !== null, HANDSHAKE_TIMEOUT_MS);
    return this.upgraded;
  }

  /** Half-closes: the target sees the end of the stream. */
  end(): void {
    if (!this.isClosed) this.byUs = true;
    this.sock.end();
  }

  destroy(): void {
    if (!this.isClosed) this.byUs = true;
    this.sock.destroy();
  }
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data as Buffer[]);
  return Buffer.from(data as ArrayBuffer);
}

function upgradeRequest(
  port: number,
  headers: Record<string, string> = {},
  path = '/',
  method = 'GET',
): string {
  const all: Record<string, string> = {
    Host: `127.0.0.1:${port}`,
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  const lines = Object.entries(all)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k}: ${v}`);
  return `${method} ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

/** A client-to-server ws frame; `declared` overrides the length field (truncation, oversize). */
function clientFrame(
  opcode: number,
  payload: Buffer,
  opts: { fin?: boolean; rsv?: number; mask?: boolean; declared?: bigint } = {},
): Buffer {
  const fin = opts.fin ?? true;
  const mask = opts.mask ?? true;
  const declared = opts.declared ?? BigInt(payload.length);
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f)];
  let ext = Buffer.alloc(0);
  if (declared < 126n) head.push((mask ? 0x80 : 0) | Number(declared));
  else if (declared < 65536n) {
    head.push((mask ? 0x80 : 0) | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(Number(declared));
  } else {
    head.push((mask ? 0x80 : 0) | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(declared);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), ext, key, masked]);
}

// ---- the cases -----------------------------------------------------------------------------

interface RunInit {
  seed: number;
  port: number;
  cookie: string;
  target: LaunchedNode;
  targetName: string;
  fuzzerName: string;
  store: Pid;
  sentinel: { key: string; value: unknown };
  counts: FuzzCounts;
  failures: Failure[];
  isAlive: () => boolean;
}

class CaseFailure extends Error {}

/** One fuzz session's shared state: connections in flight, counts, the state to check. */
class Run {
  readonly init: RunInit;
  private readonly live = new Set<Closable>();
  /** One churn and one real oversized send at a time (both are big). */
  private churning = false;
  private bigSending = false;
  stateIntact = false;

  constructor(init: RunInit) {
    this.init = init;
  }

  get counts(): FuzzCounts {
    return this.init.counts;
  }

  destroyAll(): void {
    for (const c of this.live) c.destroy();
    this.live.clear();
  }

  async runCase(
    index: number,
    worker: number,
    kinds: CaseKind[],
    stopping: () => boolean,
  ): Promise<void> {
    const rng = seededRandom(hash32(`${this.init.seed}/${index}`));
    const kind =
      index < kinds.length
        ? kinds[index]!
        : kinds[Math.floor(rng() * kinds.length) % kinds.length]!;
    const c = new Case(this, index, kind, worker, rng);
    this.counts.cases++;
    this.counts.byKind[kind]++;
    let timer: NodeJS.Timeout | null = null;
    try {
      await Promise.race([
        CASES[kind](c),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new CaseFailure(`the case did not finish within ${CASE_TIMEOUT_MS} ms`)),
            CASE_TIMEOUT_MS,
          );
        }),
      ]);
      if (c.cut) this.counts.cut++;
      else this.counts.completed[kind]++;
    } catch (err) {
      if (!stopping()) {
        const detail =
          err instanceof CaseFailure
            ? err.message
            : `fuzzer error: ${(err as Error).stack ?? String(err)}`;
        this.init.failures.push({ index, kind, detail: `${c.label}: ${detail}` });
      }
    } finally {
      if (timer) clearTimeout(timer);
      c.cleanup();
    }
  }

  ws(own: Set<Closable>): WsConn {
    this.counts.connections++;
    const conn = new WsConn(`ws://127.0.0.1:${this.init.port}/`, (cn) => {
      this.live.delete(cn);
      own.delete(cn);
      if (!cn.byUs) this.counts.refused++;
      if (cn.closeCode !== null && cn.closeCode !== 1005 && !cn.byUs) {
        const key = String(cn.closeCode);
        this.counts.closeCodes[key] = (this.counts.closeCodes[key] ?? 0) + 1;
      }
    });
    this.live.add(conn);
    own.add(conn);
    return conn;
  }

  raw(own: Set<Closable>): RawConn {
    this.counts.connections++;
    const conn = new RawConn(this.init.port, (cn) => {
      this.live.delete(cn);
      own.delete(cn);
      if (!cn.byUs) this.counts.refused++;
      if (cn.closeCode !== null) {
        const key = String(cn.closeCode);
        this.counts.closeCodes[key] = (this.counts.closeCodes[key] ?? 0) + 1;
      }
      if (cn.response !== null && !cn.upgraded) {
        const status = /^HTTP\/1\.1 (\d+)/.exec(cn.response)?.[1] ?? '?';
        this.reason(`http ${status}`);
      }
    });
    this.live.add(conn);
    own.add(conn);
    return conn;
  }

  reason(key: string): void {
    this.counts.reasons[key] = (this.counts.reasons[key] ?? 0) + 1;
  }

  tryLock(what: 'churn' | 'big'): boolean {
    if (what === 'churn') {
      if (this.churning) return false;
      this.churning = true;
    } else {
      if (this.bigSending) return false;
      this.bigSending = true;
    }
    return true;
  }

  unlock(what: 'churn' | 'big'): void {
    if (what === 'churn') this.churning = false;
    else this.bigSending = false;
  }

  /** Checks the target serves with its state intact; returns the problems found. */
  async check(): Promise<string[]> {
    const { store, targetName, sentinel } = this.init;
    const problems: string[] = [];
    let stateOk = true;
    this.counts.checks++;
    const step = async (what: string, state: boolean, fn: () => Promise<string | null>) => {
      try {
        const problem = await fn();
        if (problem !== null) {
          problems.push(`${what}: ${problem}`);
          if (state) stateOk = false;
        }
      } catch (err) {
        problems.push(`${what}: ${(err as Error).message}`);
        if (state) stateOk = false;
      }
    };
    if (!this.init.isAlive()) {
      problems.push('the target process is not alive');
      stateOk = false;
    } else {
      await step('ping', false, async () => {
        const r = await Node.ping(targetName, CHECK_CALL_TIMEOUT_MS);
        return r === 'pong' ? null : `got ${r}`;
      });
      await step('round trip', false, async () => {
        const a = Math.floor(Math.random() * 1e6);
        const b = Math.floor(Math.random() * 1e6);
        const r = await call(store, { op: 'add', a, b }, CHECK_CALL_TIMEOUT_MS);
        return r === a + b ? null : `${a} + ${b} gave ${JSON.stringify(r)}`;
      });
      await step('stored value', true, async () => {
        const r = await call(store, { op: 'get', key: sentinel.key }, CHECK_CALL_TIMEOUT_MS);
        return JSON.stringify(r) === JSON.stringify(sentinel.value)
          ? null
          : `expected ${JSON.stringify(sentinel.value)}, got ${JSON.stringify(r)}`;
      });
      await step('local name', true, async () => {
        const tag = `n${this.counts.checks}`;
        send(['fuzz_store', targetName] as const, { byName: tag, key: sentinel.key, to: self() });
        const r = await receive<{ value: unknown }>(
          (m) => typeof m === 'object' && m !== null && (m as { byName?: unknown }).byName === tag,
          CHECK_CALL_TIMEOUT_MS,
        );
        if (r === TIMEOUT) return 'no answer';
        return JSON.stringify(r.value) === JSON.stringify(sentinel.value)
          ? null
          : 'a different value';
      });
      await step('global name', true, async () => {
        const r = await call(store, { op: 'whereis', name: GLOBAL_NAME }, CHECK_CALL_TIMEOUT_MS);
        return r instanceof Pid && r.equals(store) ? null : `resolves to ${String(r)}`;
      });
      await step('forged messages', true, async () => {
        const stray = await call(store, { op: 'stray' }, CHECK_CALL_TIMEOUT_MS);
        const canary = await call(store, { op: 'get', key: 'canary' }, CHECK_CALL_TIMEOUT_MS);
        const evil = await call(
          store,
          { op: 'whereis', name: CANARY_GLOBAL },
          CHECK_CALL_TIMEOUT_MS,
        );
        if (stray !== 0) return `${String(stray)} unauthenticated message(s) reached the store`;
        if (canary !== null) return `a forged call changed the store: ${JSON.stringify(canary)}`;
        if (evil !== null) return `a forged rpc registered ${CANARY_GLOBAL}`;
        return null;
      });
      await step('remote spawn', false, async () => {
        const pid = await spawnOn(targetName, 'FuzzFns.once');
        const r = await call(pid, 'hi', CHECK_CALL_TIMEOUT_MS);
        return JSON.stringify(r) === '{"echo":"hi"}' ? null : `got ${JSON.stringify(r)}`;
      });
    }
    if (problems.length > 0) this.counts.checksFailed++;
    this.stateIntact = stateOk && problems.length === 0;
    return problems;
  }
}

/** One case: its PRNG, its connections, helpers to build inputs and to judge the target. */
class Case {
  readonly run: Run;
  readonly index: number;
  readonly kind: CaseKind;
  readonly worker: number;
  readonly rng: () => number;
  /** What the case did (set by the case, shown with a failure). */
  label: string;
  /** The target cut the case's connection before the case could start. */
  cut = false;
  private readonly own = new Set<Closable>();

  constructor(run: Run, index: number, kind: CaseKind, worker: number, rng: () => number) {
    this.run = run;
    this.index = index;
    this.kind = kind;
    this.worker = worker;
    this.rng = rng;
    this.label = kind;
  }

  get port(): number {
    return this.run.init.port;
  }
  get cookie(): string {
    return this.run.init.cookie;
  }
  get targetName(): string {
    return this.run.init.targetName;
  }

  int(n: number): number {
    return Math.floor(this.rng() * n);
  }
  chance(p: number): boolean {
    return this.rng() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** 32 bytes from the case's PRNG (the target's nonces are random, ours need not be). */
  nonce(): Buffer {
    return this.bytes(32);
  }

  fail(detail: string): never {
    throw new CaseFailure(detail);
  }

  cleanup(): void {
    for (const conn of this.own) conn.destroy();
    this.own.clear();
  }

  /** A ws client, opened; null if the target cut it before it opened (the case is cut). */
  async ws(): Promise<WsConn | null> {
    const conn = this.run.ws(this.own);
    this.cut = !(await conn.opened);
    return this.cut ? null : conn;
  }

  /** A ws client that may not be open yet. */
  wsNow(): WsConn {
    return this.run.ws(this.own);
  }

  raw(): RawConn {
    return this.run.raw(this.own);
  }

  /** A raw connection upgraded to ws; null if the upgrade failed. */
  async rawWs(): Promise<RawConn | null> {
    const conn = this.raw();
    this.cut = !(await conn.upgrade(this.port));
    return this.cut ? null : conn;
  }

  hello(name: string, nonce = this.nonce(), v = PROTOCOL_VERSION): Buffer {
    return encodeHandshake({ h: 'hello', v, name, creation: 1 + this.int(1e6), nonce });
  }

  /** A name for this worker's real handshakes (one peer entry per worker on the target). */
  recName(): string {
    return `fuzzrec${this.worker}@127.0.0.1:1`;
  }

  /**
   * Reads what the target sends until it closes the connection: fails on a welcome, on a
   * refusal reason not matching `reasons`, or if the connection is still open at the deadline.
   */
  async expectRefused(conn: WsConn, reasons: RegExp | null): Promise<string | null> {
    const until = performance.now() + CLOSE_DEADLINE_MS;
    let reason: string | null = null;
    for (;;) {
      const msg = await conn.next(until - performance.now());
      if (msg === null) break;
      if (!msg.isBinary) continue;
      const hs = decodeHandshake(msg.data);
      if (hs?.h === 'welcome') this.fail('the target sent a welcome: authentication bypassed');
      if (hs?.h === 'refuse') {
        reason = hs.reason;
        this.run.reason(reasonKey(hs.reason));
        if (reasons && !reasons.test(hs.reason)) {
          this.fail(`refused for '${hs.reason}', expected ${reasons}`);
        }
      }
    }
    if (!conn.isClosed) {
      this.fail(`the target did not close the connection within ${CLOSE_DEADLINE_MS} ms`);
    }
    return reason;
  }

  /** The next handshake message from the target, or what came instead. */
  async nextHandshake(conn: WsConn): Promise<HandshakeMsg | 'closed' | 'garbage'> {
    const msg = await conn.next(CLOSE_DEADLINE_MS);
    if (msg === null) {
      if (!conn.isClosed) this.fail('the target neither answered nor closed the connection');
      return 'closed';
    }
    return (msg.isBinary ? decodeHandshake(msg.data) : null) ?? 'garbage';
  }

  /**
   * A real handshake with the cookie (as a dialer named `name`); returns the frames sent and the
   * challenge, or fails the case if the target refuses a correct handshake.
   */
  async realHandshake(conn: WsConn, name: string): Promise<Recording | null> {
    const nonce = randomBytes(32);
    const hello = this.hello(name, nonce);
    conn.send(hello);
    const challenge = await this.nextHandshake(conn);
    if (challenge === 'closed') return null; // cut (too many pending handshakes)
    if (typeof challenge === 'string' || challenge.h !== 'challenge') {
      this.fail(`a correct hello got ${describe(challenge)}`);
    }
    const proof = encodeHandshake({
      h: 'proof',
      proof: proofOf(this.cookie, 'dialer', challenge.nonce, name, challenge.name),
    });
    conn.send(proof);
    const welcome = await this.nextHandshake(conn);
    if (welcome === 'closed') return null;
    if (typeof welcome === 'string' || welcome.h !== 'welcome') {
      this.fail(`a correct proof got ${describe(welcome)}`);
    }
    return { hello, proof, challenge };
  }

  /**
   * An authenticated raw link as `name` and the frames of its handshake; retried if the target
   * cut the connection (it cuts beyond 64 pending handshakes), fails the case after 3 tries.
   */
  async authedRecording(name: string): Promise<{ conn: WsConn; rec: Recording }> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const conn = await this.ws();
      const rec = conn ? await this.realHandshake(conn, name) : null;
      if (conn && rec) {
        this.cut = false;
        return { conn, rec };
      }
      this.cut = true;
      conn?.destroy();
      await new Promise((r) => setTimeout(r, 50));
    }
    return this.fail('could not complete a correct handshake in 3 attempts');
  }

  /** An authenticated raw link as this worker's recording name. */
  async authed(): Promise<WsConn> {
    return (await this.authedRecording(this.recName())).conn;
  }

  /** Waits for a raw connection to be closed by the target; fails after the deadline. */
  async expectRawClosed(conn: RawConn, what: string, ms = CLOSE_DEADLINE_MS): Promise<void> {
    await conn.waitFor(() => false, ms);
    if (!conn.isClosed) this.fail(`${what}: the target did not close the connection in ${ms} ms`);
  }
}

interface Recording {
  hello: Buffer;
  proof: Buffer;
  challenge: Challenge;
}

function describe(m: HandshakeMsg | 'closed' | 'garbage'): string {
  if (typeof m === 'string') return m;
  return m.h === 'refuse' ? `refuse '${m.reason}'` : m.h;
}

const EXPECTED_HELLO = /^protocol error: expected hello$/;
const BAD_PROOF = /^(wrong cookie|protocol error: expected proof)$/;

/** Random text: ASCII, JSON-looking, unicode, control characters. */
function randomText(c: Case, n: number): string {
  const alphabet = ['a', 'Z', '0', ' ', '{', '"', '\n', '\u0000', 'é', '漢', '🦀', '\u202e', '\\'];
  if (c.chance(0.2)) {
    return JSON.stringify({ h: 'hello', v: PROTOCOL_VERSION, name: 'x@127.0.0.1:1', nonce: 'n' });
  }
  let s = '';
  for (let i = 0; i < n; i++)
    s += c.chance(0.5) ? String.fromCharCode(32 + c.int(95)) : c.pick(alphabet);
  return s;
}

const CASES: Record<CaseKind, (c: Case) => Promise<void>> = {
  async 'random-binary'(c) {
    const sizes = Array.from({ length: 1 + c.int(3) }, () =>
      c.pick([0, 1 + c.int(64), c.int(1024), 1024, 1025, 1024 + c.int(8192), c.int(65536)]),
    );
    c.label = `random binary messages of ${sizes.join(', ')} bytes`;
    const conn = await c.ws();
    if (!conn) return;
    for (const n of sizes) conn.send(c.bytes(n));
    await c.expectRefused(conn, EXPECTED_HELLO);
  },

  async 'random-text'(c) {
    const conn = await c.ws();
    if (!conn) return;
    if (c.chance(0.3)) {
      // Text opcode with arbitrary (mostly invalid UTF-8) bytes: 1007 or a refusal.
      const n = c.int(2048);
      c.label = `a text message of ${n} random bytes`;
      conn.send(c.bytes(n), false);
      await c.expectRefused(conn, EXPECTED_HELLO);
      return;
    }
    const text = randomText(c, c.pick([0, c.int(100), c.int(3000)]));
    c.label = `a text message of ${text.length} characters`;
    conn.send(text, false);
    await c.expectRefused(conn, EXPECTED_HELLO);
  },

  async 'tcp-garbage'(c) {
    const variant = c.pick(['bytes', 'lines', 'plain-get', 'huge-header', 'junk-headers', 'tls']);
    c.label = `raw TCP: ${variant}`;
    const conn = c.raw();
    if (!(await conn.connected)) return;
    switch (variant) {
      case 'bytes':
        conn.write(c.bytes(1 + c.int(4096)));
        break;
      case 'lines':
        conn.write(`${randomText(c, 200)}\r\n${randomText(c, 50)}\r\n\r\n`);
        break;
      case 'plain-get':
        conn.write(`GET /${c.int(100)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
        break;
      case 'huge-header':
        conn.write(
          `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000 + c.int(50_000))}\r\n\r\n`,
        );
        break;
      case 'junk-headers':
        conn.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), c.bytes(1 + c.int(2000))]));
        break;
      case 'tls':
        conn.write(
          Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]), c.bytes(500)]),
        );
        break;
    }
    // Junk gets a 400 and a close; a partial request line may wait for more: close it then.
    await conn.waitFor(() => false, 1500);
    conn.destroy();
  },

  async 'truncated-upgrade'(c) {
    const variant = c.pick([
      'cut',
      'cut',
      'dribble',
      'half-close',
      'bad-version',
      'no-key',
      'post',
    ]);
    c.label = `HTTP upgrade: ${variant}`;
    const conn = c.raw();
    if (!(await conn.connected)) return;
    const full = upgradeRequest(c.port);
    switch (variant) {
      case 'cut':
        conn.write(full.slice(0, 1 + c.int(full.length - 2)));
        await conn.waitFor(() => false, c.int(100));
        conn.destroy();
        return;
      case 'dribble': {
        const upTo = 1 + c.int(full.length - 2);
        for (let i = 0; i < upTo && !conn.isClosed; i += 1 + c.int(20)) {
          conn.write(full.slice(i, Math.min(upTo, i + 1 + c.int(20))));
          await new Promise((r) => setTimeout(r, c.int(5)));
        }
        conn.destroy();
        return;
      }
      case 'half-close':
        conn.write(full.slice(0, 1 + c.int(full.length - 2)));
        conn.end();
        await conn.waitFor(() => false, 2000);
        conn.destroy();
        return;
      case 'bad-version':
        conn.write(upgradeRequest(c.port, { 'Sec-WebSocket-Version': String(c.int(13)) }));
        await c.expectRawClosed(conn, 'an upgrade with a bad version');
        return;
      case 'no-key':
        conn.write(upgradeRequest(c.port, { 'Sec-WebSocket-Key': '' }));
        await c.expectRawClosed(conn, 'an upgrade without a key');
        return;
      case 'post':
        conn.write(upgradeRequest(c.port, {}, '/', 'POST'));
        await c.expectRawClosed(conn, 'a POST upgrade');
        return;
    }
  },

  async 'bad-hello'(c) {
    const base = {
      h: 'hello',
      v: PROTOCOL_VERSION,
      name: `bad${c.index}@127.0.0.1:1`,
      creation: 1,
      nonce: c.nonce(),
    };
    const field = c.pick(['h', 'v', 'name', 'creation', 'nonce'] as const);
    const { fuzzerName, targetName } = c.run.init;
    // [label, frames, reasons expected, may the target answer with a challenge?]
    const variants: Array<[string, Buffer[], RegExp, boolean]> = [
      [
        `hello without ${field}`,
        [pack({ ...base, [field]: undefined })],
        /^(protocol error: expected hello)$/,
        false,
      ],
      ['v as a string', [pack({ ...base, v: '1' })], EXPECTED_HELLO, false],
      ['name as a number', [pack({ ...base, name: 42 })], EXPECTED_HELLO, false],
      ['creation as a string', [pack({ ...base, creation: '1' })], EXPECTED_HELLO, false],
      [
        'nonce as hex',
        [pack({ ...base, nonce: base.nonce.toString('hex') })],
        EXPECTED_HELLO,
        false,
      ],
      [
        'short or long nonce',
        [pack({ ...base, nonce: c.bytes(c.pick([0, 16, 31, 33, 64])) })],
        EXPECTED_HELLO,
        false,
      ],
      [
        'another handshake message first',
        [
          c.pick([
            pack({ ...base, h: 'challenge', proof: c.nonce() }),
            pack({ h: 'proof', proof: c.nonce() }),
            pack({ h: 'welcome' }),
            pack({ h: 'refuse', reason: 'no' }),
            pack({ ...base, h: 'HELLO' }),
            pack({ ...base, h: 42 }),
          ]),
        ],
        EXPECTED_HELLO,
        false,
      ],
      [
        'not a map',
        [c.pick([pack([base]), pack('hello'), pack(null), pack(42), pack(base.nonce)])],
        EXPECTED_HELLO,
        false,
      ],
      [
        'a hello over 1 KiB',
        [pack({ ...base, pad: 'x'.repeat(HANDSHAKE_FRAME_BYTES_MAX) })],
        EXPECTED_HELLO,
        false,
      ],
      [
        'an invalid name',
        [
          pack({
            ...base,
            name: c.pick([
              '',
              'nonsense',
              'a@b',
              '1abc@127.0.0.1:1',
              `${'a'.repeat(65)}@127.0.0.1:1`,
              'x@127.0.0.1:1\n{"level":50,"msg":"forged log line"}',
              'x@127.0.0.1:1\u001b[31m',
              `${'ü'.repeat(60)}@127.0.0.1:1`,
              'x@127.0.0.1',
              'x@[::1:1',
              randomText(c, 40),
            ]),
          }),
        ],
        /^(invalid node name|protocol error: expected hello)/,
        false,
      ],
      [
        "the target's own name",
        [pack({ ...base, name: c.pick([targetName, `${TARGET}@127.0.0.1:1`]) })],
        /^duplicate name/,
        false,
      ],
      [
        "a connected peer's short name",
        [pack({ ...base, name: `${FUZZER}@127.0.0.1:1` })],
        /^duplicate name/,
        false,
      ],
      // Accepted hellos: a challenge comes, then a forged proof must be refused.
      ["the fuzzer node's exact name", [pack({ ...base, name: fuzzerName })], BAD_PROOF, true],
      ['extra fields', [pack({ ...base, extra: c.bytes(100), v2: 9 })], BAD_PROOF, true],
      [
        'odd creation',
        [pack({ ...base, creation: c.pick([-1, 0, 1.5, 2 ** 60, Number.NaN, Infinity]) })],
        BAD_PROOF,
        true,
      ],
      [
        'two hellos back to back',
        [pack(base), pack(base)],
        /^protocol error: expected proof$/,
        true,
      ],
    ];
    const [label, frames, reasons, mayChallenge] = c.pick(variants);
    c.label = `bad hello: ${label}`;
    const conn = await c.ws();
    if (!conn) return;
    for (const f of frames) conn.send(f);
    const first = await c.nextHandshake(conn);
    if (first === 'closed') return;
    if (typeof first !== 'string' && first.h === 'challenge') {
      if (!mayChallenge) c.fail('the target answered with a challenge');
      if (frames.length === 1) conn.send(encodeHandshake({ h: 'proof', proof: c.nonce() }));
      await c.expectRefused(conn, reasons);
      return;
    }
    if (typeof first === 'string' || first.h !== 'refuse') return c.fail(`got ${describe(first)}`);
    c.run.reason(reasonKey(first.reason));
    if (!reasons.test(first.reason)) c.fail(`refused for '${first.reason}', expected ${reasons}`);
    await c.expectRefused(conn, null);
  },

  async 'wrong-version'(c) {
    const v = c.pick([
      0,
      -1,
      PROTOCOL_VERSION + 1 + c.int(1000),
      PROTOCOL_VERSION + 0.5,
      2 ** 53,
      Number.NaN,
      Infinity,
    ]);
    c.label = `hello with protocol version ${v}`;
    const conn = await c.ws();
    if (!conn) return;
    conn.send(c.hello(`ver${c.index}@127.0.0.1:1`, c.nonce(), v));
    await c.expectRefused(conn, /^protocol version/);
  },

  async 'forged-proof'(c) {
    const { fuzzerName, cookie } = c.run.init;
    const name = c.chance(0.3) ? fuzzerName : `forger${c.worker}@127.0.0.1:1`;
    const conn = await c.ws();
    if (!conn) return;
    const nonce = c.nonce();
    conn.send(c.hello(name, nonce));
    const ch = await c.nextHandshake(conn);
    if (ch === 'closed') return;
    if (typeof ch === 'string' || ch.h !== 'challenge') return c.fail(`hello got ${describe(ch)}`);
    if (ch.name !== c.targetName || ch.v !== PROTOCOL_VERSION) {
      c.fail(`the challenge names ${ch.name} v${ch.v}`);
    }
    if (!ch.proof.equals(proofOf(cookie, 'acceptor', nonce, name, c.targetName))) {
      c.fail("the target's own proof does not verify with the cookie");
    }
    const right = proofOf(cookie, 'dialer', ch.nonce, name, c.targetName);
    const flipped = Buffer.from(right);
    flipped[c.int(32)]! ^= 1 << c.int(8);
    const variants: Array<[string, Buffer]> = [
      ['random proof', encodeHandshake({ h: 'proof', proof: c.nonce() })],
      ['zero proof', encodeHandshake({ h: 'proof', proof: Buffer.alloc(32) })],
      [
        'wrong cookie',
        encodeHandshake({
          h: 'proof',
          proof: proofOf(`${cookie}x`, 'dialer', ch.nonce, name, c.targetName),
        }),
      ],
      [
        'acceptor role',
        encodeHandshake({
          h: 'proof',
          proof: proofOf(cookie, 'acceptor', ch.nonce, name, c.targetName),
        }),
      ],
      [
        "the dialer's own nonce",
        encodeHandshake({
          h: 'proof',
          proof: proofOf(cookie, 'dialer', nonce, name, c.targetName),
        }),
      ],
      ['reflected challenge proof', encodeHandshake({ h: 'proof', proof: ch.proof })],
      [
        'swapped names',
        encodeHandshake({
          h: 'proof',
          proof: proofOf(cookie, 'dialer', ch.nonce, c.targetName, name),
        }),
      ],
      [
        'another dialer name',
        encodeHandshake({
          h: 'proof',
          proof: proofOf(cookie, 'dialer', ch.nonce, 'someone@127.0.0.1:1', c.targetName),
        }),
      ],
      ['one bit flipped', encodeHandshake({ h: 'proof', proof: flipped })],
      ['31-byte proof', pack({ h: 'proof', proof: right.subarray(0, 31) })],
      ['33-byte proof', pack({ h: 'proof', proof: Buffer.concat([right, Buffer.from([0])]) })],
      ['proof as hex', pack({ h: 'proof', proof: right.toString('hex') })],
      ['a second hello', c.hello(name, nonce)],
    ];
    const [label, frame] = c.pick(variants);
    c.label = `forged proof as ${name === fuzzerName ? 'the fuzzer node' : 'a stranger'}: ${label}`;
    conn.send(frame);
    await c.expectRefused(conn, BAD_PROOF);
  },

  async replay(c) {
    const name = c.recName();
    const keepOpen = c.chance(0.5);
    const pipelined = c.chance(0.5);
    c.label = `replayed handshake (${pipelined ? 'pipelined' : 'stepwise'}, recording link ${keepOpen ? 'open' : 'closed'})`;
    const a = await c.authedRecording(name);
    if (!keepOpen) {
      a.conn.close();
      await a.conn.closed;
    }
    const b = await c.ws();
    if (!b) return;
    b.send(a.rec.hello);
    if (pipelined) b.send(a.rec.proof);
    else {
      const ch = await c.nextHandshake(b);
      if (ch === 'closed') return;
      if (typeof ch === 'string' || ch.h !== 'challenge') return c.fail(`got ${describe(ch)}`);
      if (ch.nonce.equals(a.rec.challenge.nonce)) c.fail('the target reused a challenge nonce');
      b.send(a.rec.proof);
    }
    await c.expectRefused(b, /^wrong cookie$/);
    if (keepOpen && a.conn.isClosed) c.fail('a refused replay closed the authenticated link');
  },

  async 'early-frames'(c) {
    const { store, fuzzerName, targetName } = c.run.init;
    const fake = new Pid(fuzzerName, 1 + c.int(1000), 1);
    const forged = c.pick<{ kind: string; op?: string; [k: string]: unknown }>([
      { kind: 'send', to: store, msg: { forged: c.index } },
      {
        kind: 'send',
        to: store,
        msg: {
          type: '$call',
          from: { pid: fake, ref: new Ref(fuzzerName, 1 + c.int(1000), 1) },
          request: { op: 'put', key: 'canary', value: 'forged' },
        },
      },
      { kind: 'send_named', name: 'fuzz_store', node: targetName, msg: { forged: c.index } },
      { kind: 'exit', from: fake, to: store, reason: 'kill', link: false },
      {
        kind: 'rpc',
        id: 1 + c.int(1000),
        op: 'spawn',
        args: { fn: 'FuzzFns.store', args: [CANARY_GLOBAL, fake] },
      },
      {
        kind: 'rpc',
        id: 1 + c.int(1000),
        op: 'g_commit',
        args: { name: GLOBAL_NAME, token: 0, pid: fake },
      },
      {
        kind: 'rpc',
        id: 1 + c.int(1000),
        op: 'fault',
        args: { to: fuzzerName, spec: { type: 'partition' } },
      },
    ]);
    const frame = new Encoder().encode(forged as never);
    const frames = Array.from({ length: 1 + c.int(3) }, () => frame);
    const when = c.pick([
      'before hello',
      'right after hello',
      'instead of proof',
      'after a bad proof',
      'as text',
    ]);
    c.label = `a forged '${forged.kind}${forged.op ? ` ${forged.op}` : ''}' frame ${when}`;
    const conn = await c.ws();
    if (!conn) return;
    const name = `early${c.worker}@127.0.0.1:1`;
    switch (when) {
      case 'before hello':
        for (const f of frames) conn.send(f);
        conn.send(c.hello(name));
        break;
      case 'as text':
        for (const f of frames) conn.send(f, false);
        break;
      case 'right after hello':
        conn.send(c.hello(name));
        for (const f of frames) conn.send(f);
        break;
      default: {
        conn.send(c.hello(name));
        const ch = await c.nextHandshake(conn);
        if (ch === 'closed') return;
        if (typeof ch === 'string' || ch.h !== 'challenge') return c.fail(`got ${describe(ch)}`);
        if (when === 'after a bad proof')
          conn.send(encodeHandshake({ h: 'proof', proof: c.nonce() }));
        for (const f of frames) conn.send(f);
      }
    }
    await c.expectRefused(conn, /^(protocol error: expected (hello|proof)|wrong cookie)$/);
  },

  async 'truncated-frame'(c) {
    const hello = c.hello(`trunc${c.worker}@127.0.0.1:1`);
    const variant = c.pick([
      'header byte',
      'cut length',
      'cut mask',
      'short payload',
      'short big payload',
      'fragment',
      'truncated hello',
    ]);
    const action =
      variant === 'truncated hello' ? 'none' : c.pick(['destroy', 'destroy', 'end', 'wait']);
    c.label = `truncated frame: ${variant}, then ${action}`;
    if (variant === 'truncated hello') {
      const conn = await c.ws();
      if (!conn) return;
      conn.send(hello.subarray(0, c.int(hello.length)));
      await c.expectRefused(conn, EXPECTED_HELLO);
      return;
    }
    const conn = await c.rawWs();
    if (!conn) return;
    const whole = clientFrame(2, hello);
    switch (variant) {
      case 'header byte':
        conn.write(whole.subarray(0, 1));
        break;
      case 'cut length':
        conn.write(clientFrame(2, Buffer.alloc(0), { declared: 4096n }).subarray(0, 3));
        break;
      case 'cut mask':
        conn.write(whole.subarray(0, 2 + 1 + c.int(3)));
        break;
      case 'short payload':
        conn.write(whole.subarray(0, 6 + c.int(hello.length)));
        break;
      case 'short big payload': {
        const n = 2000 + c.int(100_000);
        const part = c.bytes(c.int(n));
        conn.write(clientFrame(2, part, { declared: BigInt(n) }));
        break;
      }
      case 'fragment': {
        const cut = 1 + c.int(hello.length - 1);
        conn.write(clientFrame(2, hello.subarray(0, cut), { fin: false }));
        break;
      }
    }
    if (action === 'destroy') {
      await conn.waitFor(() => false, c.int(50));
      conn.destroy();
    } else if (action === 'end') {
      conn.end();
      await c.expectRawClosed(conn, 'a half-closed truncated frame');
    } else {
      // Nothing more: the target must end the handshake by its own timeout.
      await c.expectRawClosed(conn, 'a truncated frame left hanging');
    }
  },

  async 'bad-ws-frame'(c) {
    const hello = c.hello(`wsbad${c.worker}@127.0.0.1:1`);
    const variants: Array<[string, () => Buffer]> = [
      ['unmasked frame', () => clientFrame(2, hello, { mask: false })],
      ['reserved bits', () => clientFrame(2, hello, { rsv: 1 + c.int(7) })],
      ['reserved opcode', () => clientFrame(c.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), hello)],
      ['continuation first', () => clientFrame(0, hello)],
      ['fragmented ping', () => clientFrame(9, Buffer.from('p'), { fin: false })],
      ['ping over 125 bytes', () => clientFrame(9, c.bytes(126 + c.int(200)))],
      [
        'close with a bad code',
        () => {
          const p = Buffer.alloc(2);
          p.writeUInt16BE(c.pick([0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 65535]));
          return clientFrame(8, p);
        },
      ],
      ['close with 1 byte', () => clientFrame(8, Buffer.from([3]))],
      [
        'close with invalid UTF-8',
        () => clientFrame(8, Buffer.concat([Buffer.from([0x03, 0xe8]), Buffer.from([0xff, 0xfe])])),
      ],
      ['text with invalid UTF-8', () => clientFrame(1, Buffer.from([0xc3, 0x28, 0xff, 0xfe]))],
      [
        'pings, then an unmasked frame',
        () =>
          Buffer.concat([
            ...Array.from({ length: 1 + c.int(20) }, () => clientFrame(9, c.bytes(c.int(125)))),
            clientFrame(2, hello, { mask: false }),
          ]),
      ],
      ['a clean close', () => clientFrame(8, Buffer.from([0x03, 0xe8]))],
      [
        'a new message inside a fragmented one',
        () =>
          Buffer.concat([
            clientFrame(2, hello.subarray(0, 5), { fin: false }),
            clientFrame(2, hello.subarray(5)),
          ]),
      ],
    ];
    const [label, make] = c.pick(variants);
    c.label = `bad ws frame: ${label}`;
    const conn = await c.rawWs();
    if (!conn) return;
    conn.write(make());
    await c.expectRawClosed(conn, label);
  },

  async 'oversized-frame'(c) {
    const variant = c.pick([
      'declared over the limit',
      'declared over 2^53',
      'declared 2^63',
      'real, over 1 KiB',
      'real, over the limit',
      'after auth',
    ]);
    c.label = `oversized frame: ${variant}`;
    if (variant === 'real, over 1 KiB') {
      const conn = await c.ws();
      if (!conn) return;
      const n = HANDSHAKE_FRAME_BYTES_MAX + 1 + c.int(200_000);
      c.label += ` (${n} bytes)`;
      conn.send(Buffer.alloc(n, c.int(256)));
      await c.expectRefused(conn, EXPECTED_HELLO);
      return;
    }
    if (variant === 'real, over the limit') {
      // 16 MiB each: one at a time, else it falls back to a declared one.
      if (c.run.tryLock('big')) {
        try {
          const conn = await c.ws();
          if (!conn) return;
          conn.send(Buffer.alloc(TARGET_FRAME_BYTES_MAX + 1 + c.int(1024), c.int(256)));
          await c.expectRefused(conn, null);
          return;
        } finally {
          c.run.unlock('big');
        }
      }
    }
    if (variant === 'after auth') {
      const conn = await c.authed();
      if (!conn) return;
      const sock = conn.socket();
      if (!sock) return c.fail('no socket under the authenticated ws');
      sock.write(
        clientFrame(2, c.bytes(c.int(1000)), {
          declared: BigInt(TARGET_FRAME_BYTES_MAX + 1 + c.int(1000)),
        }),
      );
      await c.expectRefused(conn, null);
      if (conn.closeCode !== 1009 && conn.closeCode !== 1006) {
        c.fail(`closed with ${conn.closeCode}, expected 1009`);
      }
      return;
    }
    const declared =
      variant === 'declared over 2^53'
        ? 2n ** 53n + BigInt(c.int(1000))
        : variant === 'declared 2^63'
          ? 2n ** 63n + BigInt(c.int(1000))
          : BigInt(TARGET_FRAME_BYTES_MAX + 1 + c.int(1_000_000));
    const conn = await c.rawWs();
    if (!conn) return;
    conn.write(clientFrame(2, c.bytes(c.int(2000)), { declared }));
    await c.expectRawClosed(conn, 'an oversized frame header');
    if (conn.closeCode !== null && conn.closeCode !== 1009) {
      c.fail(`closed with ${conn.closeCode}, expected 1009`);
    }
  },

  async 'authed-garbage'(c) {
    const { targetName, store } = c.run.init;
    const me = new Pid(c.recName(), 1 + c.int(100), 1);
    const nowhere = () => new Pid(targetName, 1_000_000 + c.int(1_000_000), store.creation);
    const ref = () => new Ref(c.recName(), 1 + c.int(1000), 1);
    const enc = new Encoder();
    const odd = [
      { kind: 'send', to: nowhere(), msg: { hi: c.index } },
      { kind: 'send_named', name: `nobody${c.int(100)}`, node: targetName, msg: 1 },
      { kind: 'link', from: me, to: nowhere() },
      { kind: 'unlink', from: me, to: nowhere() },
      { kind: 'exit', from: me, to: nowhere(), reason: 'kill', link: c.chance(0.5) },
      { kind: 'monitor', from: me, to: nowhere(), ref: ref() },
      { kind: 'demonitor', from: me, to: nowhere(), ref: ref() },
      { kind: 'down', to: nowhere(), ref: ref(), pid: me, reason: 'x' },
      { kind: 'reply', to: nowhere(), ref: ref(), value: 1 },
      { kind: 'rpc', id: c.int(1000), op: `nosuch${c.int(10)}`, args: null },
      { kind: 'rpc', id: c.int(1000), op: 'spawn', args: { fn: 'Nope.fn', args: [] } },
      { kind: 'rpc', id: c.int(1000), op: 'spawn', args: { fn: 'FuzzFns.once', args: 'x' } },
      { kind: 'rpc_reply', id: c.int(1000), ok: true, value: null },
      { kind: 'ping' },
      { kind: 'peers', nodes: [] },
    ];
    const before = Array.from({ length: c.int(4) }, () => enc.encode(c.pick(odd) as never));
    const valid = enc.encode({ kind: 'ping' });
    const garbage: Array<[string, () => Buffer | string]> = [
      ['random bytes', () => c.bytes(1 + c.int(4096))],
      ['a text frame', () => randomText(c, 1 + c.int(100))],
      ['0xc1 bytes', () => Buffer.from([0xc1, 0xc1, 0xc1])],
      ['a non-wire map', () => pack({ kind: 'launch-missiles' })],
      ['an array', () => pack([1, 2, 3])],
      ['nil', () => pack(null)],
      ['a send without a pid', () => pack({ kind: 'send', to: 'not a pid', msg: 1 })],
      ['an exit without link', () => pack({ kind: 'exit', from: me, to: store, reason: 'x' })],
      ['a valid message then junk', () => Buffer.concat([valid, c.bytes(1 + c.int(50))])],
      ['a truncated message', () => valid.subarray(0, Math.max(1, valid.length - 1 - c.int(3)))],
    ];
    const [label, make] = c.pick(garbage);
    c.label = `authenticated link: ${before.length} odd signals, then ${label}`;
    const conn = await c.authed();
    if (!conn) return;
    for (const f of before) conn.send(f);
    const bad = make();
    conn.send(bad, typeof bad !== 'string');
    await c.expectRefused(conn, null);
  },

  async churn(c) {
    // One churn at a time (with the other cases' connections it stays under the target's cap
    // of 64 pending handshakes).
    while (!c.run.tryLock('churn')) await new Promise((r) => setTimeout(r, 20));
    try {
      const n = 1 + c.int(CHURN_MAX);
      const modes = Array.from({ length: n }, () =>
        c.pick(['ws-now', 'ws-open', 'ws-close', 'ws-hello', 'tcp', 'tcp-partial', 'raw-upgraded']),
      );
      c.label = `churn of ${n} connections`;
      await Promise.all(
        modes.map(async (mode) => {
          if (mode.startsWith('ws')) {
            const conn = c.wsNow();
            if (mode === 'ws-now') return conn.destroy();
            if (!(await conn.opened)) return;
            if (mode === 'ws-hello') conn.send(c.hello(`churn${c.int(1000)}@127.0.0.1:1`));
            if (mode === 'ws-close') conn.close();
            else conn.destroy();
            await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 2000))]);
            conn.destroy();
            return;
          }
          const conn = c.raw();
          if (mode === 'raw-upgraded') await conn.upgrade(c.port);
          else if (await conn.connected) {
            if (mode === 'tcp-partial') conn.write(upgradeRequest(c.port).slice(0, 40));
          }
          conn.destroy();
        }),
      );
    } finally {
      c.run.unlock('churn');
    }
  },
};
