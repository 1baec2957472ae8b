// The live cluster view's HTTP side (`npm run dashboard`): serves the page, what every node's
// observer says (GET /api/state, JSON) and the page's actions (POST /api/...: kill a process,
// kill or start a node, restart a replica, partition or heal a link, add inventory).
// Listens on 127.0.0.1 only; requests naming another host, cross-origin posts and bodies over
// 16 KiB are refused. A failed action answers { ok: false, error } and never stops the server.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ActorError, Global, kill, Pid, sleep } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { Faults, type LaunchedNode, Node } from '../../transport/index.ts';
import { DASHBOARD_PAGE } from './dashboard-page.ts';
import type { LocalCluster, Service } from './local-cluster.ts';
import { clusterSnapshot, type NodeSnapshot, startObserver } from './observer.ts';

export interface DashboardOptions {
  /** Port on 127.0.0.1 (default 0: a free one). */
  port?: number;
  /** The local cluster the node actions (kill, start, restart a replica) act on. */
  cluster?: LocalCluster;
  /** The services the cluster's nodes run (default inventory and seats). */
  services?: Service[];
}

export interface Dashboard {
  /** `http://127.0.0.1:PORT/` */
  url: string;
  close(): Promise<void>;
}

export interface DashboardState {
  /** This node's full name (the dashboard's own node). */
  self: string;
  time: number;
  nodes: NodeSnapshot[];
  cluster?: {
    names: string[];
    services: Service[];
    /** Short name -> full name of the running node process, null while it is down. */
    nodes: Record<string, string | null>;
    /** Short name -> what is being done to it ('starting', 'stopping', 'restarting inventory'). */
    busy: Record<string, string>;
  };
}

const BODY_MAX_BYTES = 16 * 1024;
const SNAPSHOT_TIMEOUT_MS = 1500;
/** Polls within this long share one gathering of snapshots. */
const STATE_FRESH_MS = 200;
const SERVICES: Service[] = ['inventory', 'seats'];
const NODE_NAME = /^[A-Za-z0-9_.-]{1,64}(@[A-Za-z0-9_.:[\]-]{1,200})?$/;
const REPLICA_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const bad = (message: string) => new HttpError(400, message);
const shortName = (full: string) => {
  const at = full.indexOf('@');
  return at < 0 ? full : full.slice(0, at);
};

type Body = Record<string, unknown>;

function text(body: Body, key: string, max = 200): string {
  const v = body[key];
  if (typeof v !== 'string' || v.length === 0) throw bad(`'${key}' must be a non-empty string`);
  if (v.length > max) throw bad(`'${key}' is longer than ${max} characters`);
  return v;
}

function integer(body: Body, key: string, min: number, max: number): number {
  const v = body[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max)
    throw bad(`'${key}' must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

function nodeArg(body: Body, key: string): string {
  const v = text(body, key, 270);
  if (!NODE_NAME.test(v)) throw bad(`'${key}' is not a node name: ${JSON.stringify(v)}`);
  return v;
}

/** Reads a request body of at most BODY_MAX_BYTES (413 beyond). */
function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > BODY_MAX_BYTES) {
      req.resume();
      reject(new HttpError(413, `request body over ${BODY_MAX_BYTES} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooBig = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > BODY_MAX_BYTES) tooBig = true;
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooBig) reject(new HttpError(413, `request body over ${BODY_MAX_BYTES} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) return;
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(data),
    ...(close ? { connection: 'close' } : {}),
  });
  res.end(data);
}

/** Starts the dashboard's HTTP server on 127.0.0.1; this process must already be a node. */
export async function startDashboard(options: DashboardOptions = {}): Promise<Dashboard> {
  const { cluster } = options;
  const services = options.services ?? SERVICES;
  startObserver();

  // ---- state ----
  const watched = new WeakSet<LaunchedNode>();
  const exited = new WeakSet<LaunchedNode>();
  const busy = new Map<string, string>();

  /** The launched node `name` if its process is running. */
  function running(name: string): LaunchedNode | undefined {
    const node = cluster?.nodes.get(name);
    if (!node) return undefined;
    if (!watched.has(node)) {
      watched.add(node);
      void node.exited.then(() => exited.add(node));
    }
    return exited.has(node) ? undefined : node;
  }

  async function gather(): Promise<DashboardState> {
    const nodes = await clusterSnapshot(SNAPSHOT_TIMEOUT_MS);
    const state: DashboardState = { self: Node.self(), time: Date.now(), nodes };
    if (cluster) {
      state.cluster = {
        names: [...cluster.names],
        services: [...services],
        nodes: Object.fromEntries(cluster.names.map((n) => [n, running(n)?.name ?? null])),
        busy: Object.fromEntries(busy),
      };
    }
    return state;
  }

  let latest: { at: number; state: Promise<DashboardState> } | null = null;
  function state(): Promise<DashboardState> {
    if (latest && Date.now() - latest.at < STATE_FRESH_MS) return latest.state;
    const next = { at: Date.now(), state: gather() };
    next.state.catch(() => {
      if (latest === next) latest = null;
    });
    latest = next;
    return next.state;
  }
  const stale = () => {
    latest = null;
  };

  // ---- actions ----
  function needCluster(): LocalCluster {
    if (!cluster) throw bad('this dashboard runs no local cluster');
    return cluster;
  }

  /** A cluster node's short name, from its short or full name. */
  function clusterName(body: Body, key: string): string {
    const c = needCluster();
    const v = nodeArg(body, key);
    const name = shortName(v);
    if (!c.names.includes(name)) throw bad(`unknown node '${v}' (nodes: ${c.names.join(', ')})`);
    if (v !== name && running(name)?.name !== v) throw bad(`node '${v}' is not running`);
    return name;
  }

  /** The full name of a node this one knows (connected, or running in the cluster). */
  function knownNode(body: Body, key: string): string {
    const v = nodeArg(body, key);
    const known = new Set([Node.self(), ...Node.list()]);
    for (const name of cluster?.names ?? []) {
      const full = running(name)?.name;
      if (full) known.add(full);
    }
    for (const full of known) if (full === v || shortName(full) === v) return full;
    throw bad(`unknown node '${v}' (known: ${[...known].map(shortName).sort().join(', ')})`);
  }

  async function exclusive<T>(name: string, what: string, fn: () => Promise<T>): Promise<T> {
    const doing = busy.get(name);
    if (doing) throw new HttpError(409, `${name} is busy (${doing})`);
    busy.set(name, what);
    stale();
    try {
      return await fn();
    } finally {
      busy.delete(name);
      stale();
    }
  }

  function linkEnds(body: Body): [string, string] {
    const a = knownNode(body, 'a');
    const b = knownNode(body, 'b');
    if (a === b) throw bad('a link needs two different nodes');
    if (a === Node.self() || b === Node.self())
      throw bad("the dashboard's own links are not for partitioning: it would stop seeing nodes");
    return [a, b];
  }

  const actions: Record<string, (body: Body) => Promise<Record<string, unknown>>> = {
    async 'kill-process'(body) {
      const node = knownNode(body, 'node');
      const id = integer(body, 'id', 0, 2 ** 31);
      const creation = integer(body, 'creation', 0, Number.MAX_SAFE_INTEGER);
      if (node === Node.self()) throw bad("the dashboard's own processes are not for killing");
      const snap = (await state()).nodes.find((s) => s.node === node);
      if (!snap) throw bad(`node ${shortName(node)} does not answer`);
      const proc = snap.processes.find((p) => p.id === id && p.creation === creation);
      if (!proc) throw bad(`no process ${id} (creation ${creation}) on ${shortName(node)}`);
      kill(new Pid(node, id, creation));
      stale();
      return { killed: proc.pid };
    },
    async 'kill-node'(body) {
      const name = clusterName(body, 'name');
      if (!running(name)) throw bad(`${name} is down already`);
      await exclusive(name, 'stopping', () => needCluster().killNode(name));
      return {};
    },
    async 'start-node'(body) {
      const name = clusterName(body, 'name');
      if (running(name)) throw bad(`${name} is up already`);
      const node = await exclusive(name, 'starting', async () => {
        const c = needCluster();
        // A node process that died by itself is still listed: forget it first.
        if (c.nodes.has(name)) await c.killNode(name);
        return c.startNode(name);
      });
      return { node: node.name };
    },
    async 'restart-replica'(body) {
      const service = text(body, 'service', 32) as Service;
      if (!services.includes(service))
        throw bad(`unknown service '${service}' (services: ${services.join(', ')})`);
      const name = clusterName(body, 'name');
      if (!running(name)) throw bad(`${name} is down: start the node`);
      const pid = await exclusive(name, `restarting ${service}`, async () => {
        const old = Global.whereis(`${service}:${name}`);
        if (old) {
          kill(old);
          const deadline = Date.now() + 5000;
          while (Global.whereis(`${service}:${name}`)?.equals(old)) {
            if (Date.now() > deadline) throw new Error(`${service}:${name} did not go away`);
            await sleep(10);
          }
        }
        return needCluster().startReplica(service, name);
      });
      return { pid: String(pid) };
    },
    async partition(body) {
      const [a, b] = linkEnds(body);
      await Faults.partition(a, b);
      stale();
      return {};
    },
    async heal(body) {
      const [a, b] = linkEnds(body);
      await Faults.heal(a, b);
      stale();
      return {};
    },
    async 'inventory/add'(body) {
      const replica = text(body, 'replica', 64);
      if (cluster ? !cluster.names.includes(replica) : !REPLICA_NAME.test(replica))
        throw bad(`unknown replica '${replica}'`);
      const item = text(body, 'item', 64).trim();
      if (item.length === 0 || [...item].some((ch) => ch < ' '))
        throw bad("'item' must be a printable name");
      const qty = integer(body, 'qty', 1, 1_000_000);
      const result = await InventoryServer.add(replica, item, qty, {
        timeoutMs: 3000,
        attempts: 2,
      });
      stale();
      return { result };
    },
  };

  // ---- HTTP ----
  let origins: string[] = [];

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = req.headers.host ?? '';
    if (!origins.some((o) => o === `http://${host}`))
      throw new HttpError(403, `host '${host}' is not this dashboard`);
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (req.method === 'GET' || req.method === 'HEAD') {
      if (path === '/' || path === '/index.html') {
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'content-length': Buffer.byteLength(DASHBOARD_PAGE),
        });
        res.end(req.method === 'HEAD' ? undefined : DASHBOARD_PAGE);
        return;
      }
      if (path === '/api/state') return reply(res, 200, await state());
      if (path === '/favicon.ico') {
        res.writeHead(204);
        res.end();
        return;
      }
      throw new HttpError(404, `no page ${path}`);
    }
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} is not allowed`);
    const action = path.startsWith('/api/') ? actions[path.slice(5)] : undefined;
    if (!action || !Object.hasOwn(actions, path.slice(5)))
      throw new HttpError(404, `no action ${path}`);
    const origin = req.headers.origin;
    if (origin !== undefined && !origins.includes(origin))
      throw new HttpError(403, `cross-origin request from ${origin} refused`);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
      throw new HttpError(415, 'actions take a JSON body (content-type: application/json)');
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw bad('the body is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      throw bad('the body must be a JSON object');
    reply(res, 200, { ok: true, ...(await action(body as Body)) });
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      let status = 500;
      if (err instanceof HttpError) status = err.status;
      else if (
        err instanceof ActorError &&
        ['invalid_argument', 'unknown_name', 'noproc'].includes(err.code)
      )
        status = 400;
      const error = err instanceof Error ? err.message : String(err);
      // An oversized body is left unread: answer, then close the connection.
      reply(res, status, { ok: false, error }, status === 413);
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  origins = [`http://127.0.0.1:${port}`, `http://localhost:${port}`];

  let closed = false;
  return {
    url: `http://127.0.0.1:${port}/`,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
