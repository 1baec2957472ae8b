// A node: this Node.js process's ws listener, its links to peer nodes (full mesh, formed on
// demand), the handshake, heartbeats and node-down detection, and the bridge into the kernel.
import { randomInt } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { type RawData, WebSocket, WebSocketServer } from 'ws';
import { ActorError } from '../actors/errors.ts';
import { kernel } from '../actors/kernel.ts';
import { type Logger, logger } from '../actors/log.ts';
import { Pid } from '../actors/pid.ts';
import type { Signal } from '../actors/signals.ts';
import type { Arrival } from './codec.ts';
import { resolveCookie } from './cookie.ts';
import {
  type FaultSpec,
  hash32,
  isClear,
  type LinkFaults,
  seededRandom,
  withFault,
} from './faults.ts';
import {
  type Challenge,
  decodeHandshake,
  encodeHandshake,
  HANDSHAKE_FRAME_BYTES_MAX,
  type HandshakeMsg,
  type Hello,
  newNonce,
  PROTOCOL_VERSION,
  proofMatches,
  proofOf,
} from './handshake.ts';
import { Link, type LinkLimits, type LinkMutation } from './link.ts';
import { checkShortName, fullName, isFullName, parseFullName, shortName } from './names.ts';
import { Rpc } from './rpc.ts';
import { certNodeName, checkTls, type TlsConfig } from './tls.ts';
import { SIGNAL_KINDS, type Wire } from './wire.ts';

/** The close reason of the spare one of two links between the same two incarnations. */
const DUPLICATE_REASON = 'duplicate link';
/** The close reason of a node that stops cleanly. */
const STOPPING_REASON = 'node stopping';

export interface NodeOptions {
  /** Short name, unique in the cluster (letters, digits, '_' and '-'). */
  name: string;
  /**
   * Interface to listen on (default 127.0.0.1; 0.0.0.0 or :: for every interface, which needs
   * `advertise`). Beyond loopback it needs `tls`, or `insecure`.
   */
  host?: string;
  /** Port to listen on; 0 picks a free one (default 0). */
  port?: number;
  /**
   * The address peers dial, `host` or `host:port`, which becomes part of the node's name
   * `name@host:port` (default: the listening host and port).
   */
  advertise?: string;
  /**
   * wss:// links with mutual authentication: both ends present a certificate signed by `ca`, and
   * each end checks that the other's certificate names the node it claims to be (common name =
   * short node name). Every node of the cluster must use it. Make the files with `npm run certs`.
   */
  tls?: TlsConfig;
  /**
   * Allows listening beyond loopback without TLS: plain ws:// that only the cookie protects
   * (anyone on the network can read the traffic). A warning is logged.
   */
  insecure?: boolean;
  /** Shared secret (default: ACTORCLUSTER_COOKIE, else ~/.actorcluster.cookie). */
  cookie?: string;
  /** A ping is sent on a link idle this long (default 1000 ms). */
  heartbeatIntervalMs?: number;
  /** A peer silent this long is declared down (default 4000 ms). */
  nodeDownAfterMs?: number;
  /** Dial plus handshake must finish within this (default 3000 ms). */
  connectTimeoutMs?: number;
  /** Largest frame and message in bytes (default 16 MiB). */
  frameBytesMax?: number;
  /** A link whose send queue to a slow peer passes this many bytes fails (default 64 MiB). */
  queueBytesMax?: number;
  /** After a peer goes down, try to reconnect for this long (default 30000 ms; 0: never). */
  reconnectForMs?: number;
  /** Node-level operations (remote spawn, registry) time out after this (default 5000 ms). */
  rpcTimeoutMs?: number;
  /** Seed for fault-injection randomness (default: random). */
  seed?: number;
  /**
   * Test only, never set in shipping code: restores a known bug (see LinkMutation) so a test
   * can show its check catches it. Read at each use: a test may change the set it passed.
   */
  mutations?: ReadonlySet<LinkMutation>;
}

type Settings = Required<
  Omit<NodeOptions, 'cookie' | 'mutations' | 'advertise' | 'tls' | 'insecure'>
> & {
  cookie: string;
  mutations?: ReadonlySet<LinkMutation>;
  advertise?: string;
  tls?: TlsConfig;
  insecure: boolean;
};

/** Whether `host` only reaches this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}

/** Splits `host`, `host:port`, `[v6]` or `[v6]:port`; throws invalid_argument otherwise. */
export function parseAddress(text: string, what: string): { host: string; port?: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text);
  const port = m?.[2] === undefined ? undefined : Number(m[2]);
  if (!m || (port !== undefined && !(port > 0 && port < 65536))) {
    throw new ActorError(
      'invalid_argument',
      `${what} must be host or host:port (e.g. 10.1.0.2:4000), got ${JSON.stringify(text)}`,
    );
  }
  return { host: m[1]!, ...(port === undefined ? {} : { port }) };
}

/** Unauthenticated connections allowed at once; more are cut at once. */
const PENDING_HANDSHAKES_MAX = 64;
/**
 * Raw bytes a connection may send before it is authenticated: a hello and a proof (each at most
 * 1 KiB) with their WebSocket framing. Past this the socket is cut at once, before a large
 * message is buffered in memory (ws would otherwise take whole messages up to frameBytesMax).
 */
const PRE_AUTH_BYTES_MAX = 8 * 1024;
/** An HTTP upgrade request must arrive whole within this (a slow or truncated one is cut). */
const UPGRADE_REQUEST_TIMEOUT_MS = 5000;

/** `text` cut to at most `maxBytes` of UTF-8, on a character boundary (WebSocket close reasons: 123). */
export function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > maxBytes) break;
    bytes += n;
    out += ch;
  }
  return out;
}
const CLOSE_REASON_BYTES_MAX = 123;
/** Signals queued for a node that is still connecting, at most. */
const PEER_QUEUE_MAX = 100_000;

interface Peer {
  readonly name: string;
  link: Link | null;
  dialing: Promise<boolean> | null;
  /** Messages waiting for the link to come up. */
  queue: Wire[];
  /** Waiters for the link to come up (simultaneous connects resolve through these). */
  upWaiters: Array<(up: boolean) => void>;
  reconnectTimer: NodeJS.Timeout | null;
  wasUp: boolean;
}

export type NodeEvent = { type: 'nodeup' | 'nodedown'; node: string };

export class ClusterNode {
  readonly name: string;
  readonly creation: number;
  readonly rpc: Rpc;
  readonly settings: Settings;
  private readonly server: WebSocketServer;
  private readonly peers = new Map<string, Peer>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  /** Totals for metrics (links come and go; these stay). */
  readonly counters = {
    heartbeatsMissed: 0,
    nodeDowns: 0,
    framesOut: 0,
    framesIn: 0,
    bytesOut: 0,
    bytesIn: 0,
    kindsOut: {} as Record<string, number>,
    kindsIn: {} as Record<string, number>,
  };
  private pendingHandshakes = 0;
  private stopping = false;
  /** Fault rules on this node's outgoing links, by peer name. */
  private readonly faults = new Map<string, LinkFaults>();
  private readonly random: () => number;
  private readonly listeners = new Set<(event: NodeEvent) => void>();
  private readonly peerListeners = new Set<(node: string, link: Link) => void>();
  /** Peers whose next node-down is planned (killed on purpose): logged at info, not redialled. */
  private readonly expectedDowns = new Set<string>();

  private constructor(
    settings: Settings,
    server: WebSocketServer,
    private readonly http: Server | HttpsServer,
    port: number,
  ) {
    this.settings = settings;
    this.server = server;
    const advertised = settings.advertise
      ? parseAddress(settings.advertise, 'advertise')
      : { host: settings.host };
    // An IPv6 address goes in brackets in a name, as in a URL: p1@[::1]:4000.
    const host =
      advertised.host.includes(':') && !advertised.host.startsWith('[')
        ? `[${advertised.host}]`
        : advertised.host;
    this.name = fullName(settings.name, host, advertised.port ?? port);
    this.creation = randomInt(1, 2 ** 31);
    this.random = seededRandom(settings.seed);
    this.rpc = new Rpc((node, msg) => this.sendWire(node, msg));
  }

  /** Starts listening; the caller installs the node into the kernel. */
  static async listen(options: NodeOptions): Promise<ClusterNode> {
    checkShortName(options.name);
    const settings: Settings = {
      name: options.name,
      host: (options.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1'),
      port: options.port ?? 0,
      cookie: resolveCookie(options.cookie),
      heartbeatIntervalMs: positive(options.heartbeatIntervalMs, 1000, 'heartbeatIntervalMs'),
      nodeDownAfterMs: positive(options.nodeDownAfterMs, 4000, 'nodeDownAfterMs'),
      connectTimeoutMs: positive(options.connectTimeoutMs, 3000, 'connectTimeoutMs'),
      frameBytesMax: positive(options.frameBytesMax, 16 * 1024 * 1024, 'frameBytesMax'),
      queueBytesMax: positive(options.queueBytesMax, 64 * 1024 * 1024, 'queueBytesMax'),
      reconnectForMs: options.reconnectForMs ?? 30_000,
      rpcTimeoutMs: positive(options.rpcTimeoutMs, 5000, 'rpcTimeoutMs'),
      seed: options.seed ?? randomInt(1, 2 ** 31),
      mutations: options.mutations,
      advertise: options.advertise,
      tls: options.tls,
      insecure: options.insecure === true,
    };
    if (!Number.isInteger(settings.port) || settings.port < 0 || settings.port > 65535) {
      throw new ActorError('invalid_argument', `port must be 0..65535, got ${settings.port}`);
    }
    checkListen(settings);
    // Our own HTTP server, so a slow or truncated upgrade request is cut in seconds, not minutes.
    const httpOptions = {
      headersTimeout: UPGRADE_REQUEST_TIMEOUT_MS,
      requestTimeout: UPGRADE_REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1000,
    };
    const tls = settings.tls;
    const http = tls
      ? createHttpsServer({
          ...httpOptions,
          ca: tls.ca,
          cert: tls.cert,
          key: tls.key,
          // Mutual authentication: a client without a certificate signed by the CA is cut in the
          // TLS handshake, before any byte reaches the WebSocket layer.
          requestCert: true,
          rejectUnauthorized: true,
          minVersion: 'TLSv1.2',
        })
      : createServer(httpOptions);
    const server = new WebSocketServer({
      server: http,
      maxPayload: settings.frameBytesMax,
      perMessageDeflate: false,
      clientTracking: false,
    });
    await new Promise<void>((resolve, reject) => {
      http.once('listening', resolve);
      http.listen(settings.port, settings.host);
      http.once('error', (err) =>
        reject(
          new ActorError(
            'invalid_argument',
            `cannot listen on ${settings.host}:${settings.port}: ${err.message}`,
          ),
        ),
      );
    });
    const address = http.address();
    const port = typeof address === 'object' && address !== null ? address.port : settings.port;
    const node = new ClusterNode(settings, server, http, port);
    server.on('error', (err) => node.log.error({ err }, 'listener error'));
    http.on('error', (err) => node.log.error({ err }, 'listener error'));
    if (tls) {
      http.on('tlsClientError', (err: Error, socket: TLSSocket) => {
        // After a failed handshake the TLS socket may have let go of its address; the TCP
        // socket under it still has it.
        const raw = (
          socket as TLSSocket & { _parent?: { remoteAddress?: string; remotePort?: number } }
        )._parent;
        const address = socket.remoteAddress ?? raw?.remoteAddress;
        const port = socket.remotePort ?? raw?.remotePort;
        const remote = address ? `${address}:${port}` : 'a client';
        node.log.warn(
          { peer: remote, reason: err.message },
          `refused TLS connection from ${remote}: ${err.message}`,
        );
      });
    }
    if (!isLoopback(settings.host) && !tls) {
      node.log.warn(
        { host: settings.host },
        `listening on ${settings.host} without TLS: links are plain ws://, readable by anyone on the network; only the cookie authenticates`,
      );
    }
    server.on('connection', (ws, req) => node.accept(ws, req));
    node.heartbeatTimer = setInterval(
      () => node.heartbeat(),
      Math.max(10, Math.floor(settings.heartbeatIntervalMs / 2)),
    );
    node.heartbeatTimer.unref();
    return node;
  }

  /** Looked up per use, so a logger installed later (tests, the REPL) sees node events too. */
  private get log(): Logger {
    return logger().child({ node: this.name });
  }

  // ---- public operations -----------------------------------------------------------------

  /** Names of the nodes this node has an authenticated link to. */
  connected(): string[] {
    return [...this.peers.values()].filter((p) => p.link !== null).map((p) => p.name);
  }

  isUp(node: string): boolean {
    return this.peers.get(node)?.link != null;
  }

  onEvent(listener: (event: NodeEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with every link that comes up (the global registry syncs through this). */
  onPeerUp(listener: (node: string, link: Link) => void): () => void {
    this.peerListeners.add(listener);
    return () => this.peerListeners.delete(listener);
  }

  /** Marks `node`'s next node-down as planned (stopped or killed on purpose): no warning, no redial. */
  expectDown(node: string): void {
    const name = this.resolve(node);
    if (name !== undefined && this.peers.has(name)) this.expectedDowns.add(name);
  }

  /** Resolves a node name: a full name as is, a short name through the known peers. */
  resolve(node: string): string | undefined {
    if (node === this.name || node === this.settings.name) return this.name;
    if (this.peers.has(node) || isFullName(node)) return node;
    for (const peer of this.peers.values()) if (shortName(peer.name) === node) return peer.name;
    return undefined;
  }

  /** Connects to `node` (a full name); resolves true once an authenticated link is up. */
  connect(node: string): Promise<boolean> {
    const name = this.resolve(node);
    if (name === undefined) {
      return Promise.reject(
        new ActorError(
          'invalid_argument',
          `unknown node '${node}': give its full name, like p1@127.0.0.1:4001`,
        ),
      );
    }
    if (name === this.name) return Promise.resolve(true);
    if (this.stopping) return Promise.resolve(false);
    parseFullName(name);
    const peer = this.peer(name);
    if (peer.link) return Promise.resolve(true);
    if (peer.dialing) return peer.dialing;
    if (this.faults.get(name)?.partitioned) return Promise.resolve(false);
    peer.dialing = this.dial(name)
      .catch((err: unknown) => {
        this.log.debug({ peer: name, reason: (err as Error).message }, 'connect failed');
        return false;
      })
      .then((up) => {
        peer.dialing = null;
        if (!up && !peer.link) this.bounceQueue(peer);
        return up || peer.link !== null;
      });
    return peer.dialing;
  }

  /**
   * Joins the cluster through one member: `target` is a full name, or just `host:port` (the
   * node there says its name in the handshake). As with any link, the two nodes then tell each
   * other the nodes they are linked to and link to those too, so one member is enough to reach
   * them all. Resolves to the member's full name; throws noconnection if it cannot be reached.
   */
  async join(target: string): Promise<string> {
    const name = isFullName(target) ? target : await this.whoIsAt(target);
    if (!(await this.connect(name)))
      throw new ActorError('noconnection', `could not link to ${name} (see the log for why)`);
    return name;
  }

  /**
   * The full name of the node listening at `address` (`host:port`), as its handshake says,
   * without linking to it. With TLS its certificate must name that node.
   */
  async whoIsAt(address: string): Promise<string> {
    const { host, port } = parseAddress(address, 'a join address');
    if (port === undefined) {
      throw new ActorError(
        'invalid_argument',
        `a join address needs a port, like ${host}:4000 (or give the full name p1@${host}:4000)`,
      );
    }
    const target = `${host}:${port}`;
    const tls = this.settings.tls;
    let certName: string | null = null;
    const ws = this.socketTo(
      target,
      tls
        ? tlsClientOptions(tls, null, target, (named) => {
            certName = named;
          })
        : {},
    );
    const frames = new FrameReader(ws);
    try {
      await frames.opened(this.settings.connectTimeoutMs);
      this.sendHello(ws);
      const challenge = await frames.next(this.settings.connectTimeoutMs);
      if (challenge?.h === 'refuse')
        throw new ActorError('noconnection', `the node at ${target} refused: ${challenge.reason}`);
      if (challenge?.h !== 'challenge' || !isFullName(challenge.name))
        throw new ActorError('noconnection', `${target} did not answer as a node of this cluster`);
      if (tls && certName !== shortName(challenge.name)) {
        throw new ActorError(
          'noconnection',
          `the node at ${target} says it is ${challenge.name} but its certificate is for ${certName ?? 'no name'}`,
        );
      }
      return challenge.name;
    } catch (err) {
      if (err instanceof ActorError) throw err;
      throw new ActorError(
        'noconnection',
        `cannot reach a node at ${target}: ${(err as Error).message}`,
      );
    } finally {
      frames.detach();
      ws.terminate();
    }
  }

  /** Sends a node-level message (signal or control) to `node`, connecting if needed. */
  sendWire(node: string, msg: Wire): boolean {
    const name = this.resolve(node);
    if (name === undefined || this.stopping) return false;
    if (name === this.name) {
      if (msg.kind === 'rpc' || msg.kind === 'rpc_reply') this.rpc.receive(this.name, msg);
      else if (SIGNAL_KINDS.has(msg.kind)) kernel.handleSignal(msg as Signal);
      return true;
    }
    const peer = this.peer(name);
    if (peer.link) {
      peer.link.send(msg);
      return true;
    }
    if (peer.queue.length >= PEER_QUEUE_MAX) {
      this.log.warn({ peer: name }, 'queue for a connecting node is full; message dropped');
      return true;
    }
    peer.queue.push(msg);
    void this.connect(name);
    return true;
  }

  /** Installs a fault rule on this node's link to `peer` (null clears them). */
  setFault(peer: string, spec: FaultSpec | null): void {
    const name = this.resolve(peer) ?? peer;
    const next = spec === null ? null : withFault(this.faults.get(name) ?? null, spec);
    if (next === null || isClear(next)) this.faults.delete(name);
    else this.faults.set(name, next);
    const link = this.peers.get(name)?.link;
    if (link) this.applyFaults(link);
  }

  clearFaults(): void {
    this.faults.clear();
    for (const peer of this.peers.values()) if (peer.link) this.applyFaults(peer.link);
  }

  faultRules(): Record<string, LinkFaults> {
    return Object.fromEntries(this.faults);
  }

  /** Closes every link and the listener. Peers see the links close and declare this node down. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const peer of this.peers.values()) {
      if (peer.reconnectTimer) clearTimeout(peer.reconnectTimer);
      peer.link?.close(1001, STOPPING_REASON);
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  // ---- links -----------------------------------------------------------------------------

  private peer(name: string): Peer {
    let peer = this.peers.get(name);
    if (!peer) {
      peer = {
        name,
        link: null,
        dialing: null,
        queue: [],
        upWaiters: [],
        reconnectTimer: null,
        wasUp: false,
      };
      this.peers.set(name, peer);
    }
    return peer;
  }

  private limits(): LinkLimits {
    return {
      frameBytesMax: this.settings.frameBytesMax,
      writeBytesHigh: 8 * 1024 * 1024,
      queueBytesMax: this.settings.queueBytesMax,
      mutations: this.settings.mutations,
    };
  }

  private applyFaults(link: Link): void {
    const rules = this.faults.get(link.peer) ?? null;
    link.faults = rules;
    link.random = seededRandom(this.settings.seed ^ hash32(`${this.name}>${link.peer}`));
    if (rules?.partitioned)
      this.log.warn({ peer: link.peer }, 'link partitioned by fault injection');
  }

  /** Dials `name` and runs the dialer's side of the handshake. */
  private async dial(name: string): Promise<boolean> {
    const { host, port, short } = parseFullName(name);
    const tls = this.settings.tls;
    const ws = this.socketTo(
      `${host}:${port}`,
      tls ? tlsClientOptions(tls, short, `${host}:${port}`) : {},
    );
    const frames = new FrameReader(ws);
    try {
      await frames.opened(this.settings.connectTimeoutMs);
      const nonce = this.sendHello(ws);
      const challenge = await frames.next(this.settings.connectTimeoutMs);
      if (challenge?.h === 'refuse') {
        if (challenge.reason === 'simultaneous connect') return await this.awaitUp(name);
        this.log.warn(
          { peer: name, reason: challenge.reason },
          `connection to ${name} refused: ${challenge.reason}`,
        );
        ws.close();
        return false;
      }
      if (challenge?.h !== 'challenge')
        return this.refuseOut(ws, name, 'protocol error: expected a challenge');
      if (challenge.v !== PROTOCOL_VERSION) {
        return this.refuseOut(
          ws,
          name,
          `protocol version ${challenge.v} (this node speaks ${PROTOCOL_VERSION})`,
        );
      }
      if (challenge.name !== name)
        return this.refuseOut(ws, name, `the node at that address is ${challenge.name}`);
      const expected = proofOf(this.settings.cookie, 'acceptor', nonce, this.name, name);
      if (!proofMatches(expected, challenge.proof)) return this.refuseOut(ws, name, 'wrong cookie');
      ws.send(
        encodeHandshake({
          h: 'proof',
          proof: proofOf(this.settings.cookie, 'dialer', challenge.nonce, this.name, name),
        }),
      );
      const welcome = await frames.next(this.settings.connectTimeoutMs);
      if (welcome?.h === 'refuse' && welcome.reason === 'simultaneous connect') {
        // The peer started dialing this node after our hello (it re-checks before welcoming):
        // its link is the one to keep, as when it refuses the hello itself. Not a failure: what
        // is queued for it waits for that link instead of bouncing.
        ws.close();
        return await this.awaitUp(name);
      }
      if (welcome?.h !== 'welcome') {
        const reason = welcome?.h === 'refuse' ? welcome.reason : 'no welcome';
        this.log.warn({ peer: name, reason }, `connection to ${name} refused: ${reason}`);
        ws.terminate();
        return false;
      }
      this.establish(name, challenge.creation, ws, frames.detach(), this.name);
      return true;
    } catch (err) {
      frames.detach();
      ws.terminate();
      if (tls && isTlsFailure(err)) {
        this.log.warn(
          { peer: name, reason: (err as Error).message },
          `TLS handshake with ${name} failed: ${(err as Error).message}`,
        );
      }
      throw err;
    }
  }

  /** A WebSocket to `target` (host:port): wss:// with the TLS options given, else ws://. */
  private socketTo(target: string, tlsOptions: object): WebSocket {
    return new WebSocket(`${this.settings.tls ? 'wss' : 'ws'}://${target}/`, {
      perMessageDeflate: false,
      maxPayload: this.settings.frameBytesMax,
      handshakeTimeout: this.settings.connectTimeoutMs,
      // A zero masking key: ws then neither copies nor XORs each frame, on either end. Masking
      // guards HTTP intermediaries against payloads chosen by browser scripts; a link between
      // two nodes carries neither.
      generateMask: zeroMask,
      ...tlsOptions,
    });
  }

  /** Sends this node's hello on a new socket; returns its nonce. */
  private sendHello(ws: WebSocket): Buffer {
    const nonce = newNonce();
    ws.send(
      encodeHandshake({
        h: 'hello',
        v: PROTOCOL_VERSION,
        name: this.name,
        creation: this.creation,
        nonce,
      }),
    );
    return nonce;
  }

  private refuseOut(ws: WebSocket, peer: string, reason: string): false {
    this.log.warn({ peer, reason }, `refusing link to ${peer}: ${reason}`);
    try {
      ws.send(encodeHandshake({ h: 'refuse', reason }));
    } catch {}
    ws.close(4001, truncateUtf8(reason, CLOSE_REASON_BYTES_MAX));
    return false;
  }

  private awaitUp(name: string): Promise<boolean> {
    const peer = this.peer(name);
    if (peer.link) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(peer.link !== null), this.settings.connectTimeoutMs);
      peer.upWaiters.push((up) => {
        clearTimeout(timer);
        resolve(up);
      });
    });
  }

  /** The acceptor's side of the handshake. Nothing is acted on before it completes. */
  private accept(ws: WebSocket, req: IncomingMessage): void {
    ws.on('error', () => ws.terminate());
    if (this.stopping || this.pendingHandshakes >= PENDING_HANDSHAKES_MAX) {
      ws.terminate();
      return;
    }
    this.pendingHandshakes++;
    const remote = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const frames = new FrameReader(ws);
    let done = false;
    // Count what arrives before authentication; cut a connection that sends too much.
    let received = 0;
    const capBytes = (chunk: Buffer) => {
      received += chunk.length;
      if (received > PRE_AUTH_BYTES_MAX) {
        this.log.warn(
          { peer: remote, bytes: received },
          `refused connection from ${remote}: over ${PRE_AUTH_BYTES_MAX} bytes before authentication`,
        );
        req.socket.destroy();
      }
    };
    req.socket.on('data', capBytes);
    const finish = () => {
      if (!done) {
        done = true;
        this.pendingHandshakes--;
        req.socket.off('data', capBytes);
      }
      return frames.detach();
    };
    const refuse = (reason: string, peer?: string) => {
      this.log.warn(
        { peer: peer ?? remote, reason },
        `refused connection from ${peer ?? remote}: ${reason}`,
      );
      try {
        ws.send(encodeHandshake({ h: 'refuse', reason }));
      } catch {}
      ws.close(4001, truncateUtf8(reason, CLOSE_REASON_BYTES_MAX));
      setTimeout(() => ws.terminate(), 500).unref();
      finish();
    };
    void (async () => {
      try {
        const hello = await frames.next(this.settings.connectTimeoutMs);
        if (hello?.h !== 'hello') return refuse('protocol error: expected hello');
        if (hello.v !== PROTOCOL_VERSION) {
          return refuse(
            `protocol version ${hello.v} (this node speaks ${PROTOCOL_VERSION})`,
            hello.name,
          );
        }
        if (!isFullName(hello.name))
          return refuse(`invalid node name ${JSON.stringify(hello.name)}`);
        if (this.settings.tls) {
          const named = certNodeName((req.socket as TLSSocket).getPeerCertificate());
          if (named !== shortName(hello.name)) {
            return refuse(
              `its certificate is for ${named ?? 'no name'}, not for ${shortName(hello.name)}`,
              hello.name,
            );
          }
        }
        const verdict = this.admit(hello);
        if (verdict !== null) return refuse(verdict, hello.name);
        const nonce = newNonce();
        const challenge: Challenge = {
          h: 'challenge',
          v: PROTOCOL_VERSION,
          name: this.name,
          creation: this.creation,
          nonce,
          proof: proofOf(this.settings.cookie, 'acceptor', hello.nonce, hello.name, this.name),
        };
        ws.send(encodeHandshake(challenge));
        const proof = await frames.next(this.settings.connectTimeoutMs);
        if (proof?.h === 'refuse') {
          this.log.warn(
            { peer: hello.name, reason: proof.reason },
            `${hello.name} refused the link: ${proof.reason}`,
          );
          ws.terminate();
          finish();
          return;
        }
        if (proof?.h !== 'proof') return refuse('protocol error: expected proof', hello.name);
        const expected = proofOf(this.settings.cookie, 'dialer', nonce, hello.name, this.name);
        if (!proofMatches(expected, proof.proof)) return refuse('wrong cookie', hello.name);
        const again = this.admit(hello);
        if (again !== null) return refuse(again, hello.name);
        ws.send(encodeHandshake({ h: 'welcome' }));
        this.establish(hello.name, hello.creation, ws, finish(), hello.name);
      } catch (err) {
        this.log.debug({ remote, reason: (err as Error).message }, 'handshake failed');
        ws.terminate();
        finish();
      }
    })();
  }

  /** Whether a hello may proceed; a refusal reason otherwise. */
  private admit(hello: Hello): string | null {
    if (hello.name === this.name || shortName(hello.name) === this.settings.name) {
      return `duplicate name: ${shortName(hello.name)} is this node's own name`;
    }
    for (const peer of this.peers.values()) {
      if (peer.link && peer.name !== hello.name && shortName(peer.name) === shortName(hello.name)) {
        return `duplicate name: ${shortName(hello.name)} is already connected as ${peer.name}`;
      }
    }
    const peer = this.peers.get(hello.name);
    // Both sides dialed at once: keep the connection dialed by the smaller name.
    if (peer?.dialing && !peer.link && hello.name > this.name) return 'simultaneous connect';
    return null;
  }

  private establish(
    name: string,
    creation: number,
    ws: WebSocket,
    early: Array<{ data: Buffer; isBinary: boolean }>,
    dialer: string,
  ): void {
    const peer = this.peer(name);
    if (peer.link && peer.link.peerCreation === creation && peer.link.dialer < dialer) {
      // Both nodes dialed each other and both handshakes completed: the same two incarnations,
      // twice. The link dialed by the smaller name wins; the new one is closed before anything
      // is written on it (the peer, holding both, makes the same choice).
      ws.close(4004, DUPLICATE_REASON);
      return;
    }
    if (peer.link) {
      // A new link replaces an old one: a restarted node, or one whose old link died unseen
      // here (the peer dials only when it has no link to this node). Whatever was written on the
      // old one may be lost, so this is a node-down. (A true simultaneous connect never gets
      // here: the handshake refuses the larger name's dial while the smaller one is dialing.)
      this.log.warn({ peer: name }, 'a new link replaces the existing one');
      const old = peer.link;
      peer.link = null;
      old.close(4002, 'replaced by a new link');
      this.down(peer, 'link replaced');
    }
    if (this.stopping) {
      ws.terminate();
      return;
    }
    const link = new Link(ws, name, creation, this.limits(), {
      onFrame: (l, msgs) => this.onFrame(l, msgs),
      onMalformed: (l, why) => {
        this.log.warn(
          { peer: l.peer, reason: why },
          `malformed frame from ${l.peer}; closing that link`,
        );
        l.close(4003, 'malformed frame');
      },
      onClose: (l, why) => {
        this.foldStats(l);
        if (peer.link !== l) return;
        peer.link = null;
        // Even a peer closing this link as its spare of two is a node-down here: this link was
        // the one in use, so what was written on it may be lost (a link the peer kept is one
        // this node no longer has: it saw that one die).
        this.down(peer, why);
      },
      onDropped: (l, bytes) =>
        this.log.warn({ peer: l.peer, bytes }, 'link queue full: closing the link'),
    });
    link.dialer = dialer;
    this.applyFaults(link);
    peer.link = link;
    peer.wasUp = true;
    if (peer.reconnectTimer) {
      clearTimeout(peer.reconnectTimer);
      peer.reconnectTimer = null;
    }
    this.log.info({ peer: name }, `node up: ${name}`);
    const others = this.connected().filter((n) => n !== name);
    link.send({ kind: 'peers', nodes: [this.name, ...others] });
    for (const listener of this.peerListeners) listener(name, link);
    link.receiveEarly(early);
    const queued = peer.queue;
    peer.queue = [];
    for (const msg of queued) this.sendQueued(link, msg);
    for (const wake of peer.upWaiters.splice(0)) wake(true);
    this.emit({ type: 'nodeup', node: name });
  }

  private sendQueued(link: Link, msg: Wire): void {
    try {
      link.send(msg);
    } catch (err) {
      this.log.warn({ peer: link.peer, reason: (err as Error).message }, 'queued message not sent');
    }
  }

  /**
   * Handles one decoded frame in order. The messages of a frame for one local process are
   * delivered together (one nact delivery); any other signal first flushes what is pending,
   * so the order between a process's messages and its other signals is kept.
   */
  private onFrame(link: Link, msgs: Arrival[]): void {
    try {
      for (const msg of msgs) {
        if (link.closed) break;
        if (Array.isArray(msg)) {
          if (msg.length === 2) this.batch(msg[0], this.creation, msg[1]);
          else this.batch(msg[0], msg[1], msg[2]);
          continue;
        }
        if (msg.kind === 'send' && msg.to.node === this.name) {
          this.batch(msg.to.id, msg.to.creation, [msg.msg]);
          continue;
        }
        if (this.batches.size > 0) this.deliverBatches();
        this.onWire(link, msg);
      }
      if (this.batches.size > 0) this.deliverBatches();
    } catch (err) {
      this.batches.clear();
      this.log.error({ peer: link.peer, err }, 'signal handling failed; closing that link');
      link.close(4003, 'bad signal');
    }
  }

  /** Messages of the frame being handled, grouped by local process id, in order (reused). */
  private readonly batches = new Map<number, { creation: number; msgs: unknown[] }>();

  /** Adds a run of messages for local process `id` (the decoded array is handed on as is). */
  private batch(id: number, creation: number, msgs: unknown[]): void {
    if (msgs.length === 0) return;
    const entry = this.batches.get(id);
    if (entry === undefined) this.batches.set(id, { creation, msgs });
    else if (entry.creation === creation) for (const msg of msgs) entry.msgs.push(msg);
    else {
      // Another incarnation's process of the same id (at most one of them is alive here).
      this.deliverBatches();
      this.batches.set(id, { creation, msgs });
    }
  }

  private deliverBatches(): void {
    for (const [id, { creation, msgs }] of this.batches)
      kernel.deliverMany(new Pid(this.name, id, creation), msgs);
    this.batches.clear();
  }

  private onWire(link: Link, msg: Wire): void {
    switch (msg.kind) {
      case 'ping':
        return;
      case 'peers':
        for (const node of msg.nodes) {
          if (node !== this.name && isFullName(node) && !this.peers.get(node)?.link)
            void this.connect(node);
        }
        return;
      case 'rpc':
      case 'rpc_reply':
        this.rpc.receive(link.peer, msg);
        return;
      default:
        kernel.handleSignal(msg);
    }
  }

  /** A peer's link is gone: its processes are unreachable (noconnection), calls fail. */
  private down(peer: Peer, why: string): void {
    // A peer that said goodbye (it stopped cleanly), or one killed on purpose, is news, not a warning.
    const planned = this.expectedDowns.delete(peer.name);
    const level = planned || why.includes(STOPPING_REASON) ? 'info' : 'warn';
    this.log[level]({ peer: peer.name, reason: why }, `node down: ${peer.name} (${why})`);
    this.counters.nodeDowns++;
    kernel.nodeDown(peer.name);
    this.rpc.nodeDown(peer.name);
    this.emit({ type: 'nodedown', node: peer.name });
    this.bounceQueue(peer);
    // A node killed on purpose is not coming back: no redialling its (reusable) port.
    if (!planned) this.scheduleReconnect(peer, performance.now(), 100);
  }

  private scheduleReconnect(peer: Peer, sinceMs: number, waitMs: number): void {
    if (this.stopping || this.settings.reconnectForMs <= 0 || peer.reconnectTimer) return;
    if (performance.now() - sinceMs > this.settings.reconnectForMs) return;
    peer.reconnectTimer = setTimeout(() => {
      peer.reconnectTimer = null;
      if (peer.link || this.stopping) return;
      void this.connect(peer.name).then((up) => {
        if (!up) this.scheduleReconnect(peer, sinceMs, Math.min(waitMs * 2, 2000));
      });
    }, waitMs);
    peer.reconnectTimer.unref();
  }

  /** Signals that waited for a node that could not be reached turn into noconnection. */
  private bounceQueue(peer: Peer): void {
    const queued = peer.queue;
    peer.queue = [];
    for (const msg of queued) {
      if (SIGNAL_KINDS.has(msg.kind)) kernel.bounce(msg as Signal);
    }
    for (const wake of peer.upWaiters.splice(0)) wake(false);
  }

  /** A closed link's traffic goes into the node's totals. */
  private foldStats(link: Link): void {
    const c = this.counters;
    const s = link.stats;
    c.framesOut += s.framesOut;
    c.framesIn += s.framesIn;
    c.bytesOut += s.bytesOut;
    c.bytesIn += s.bytesIn;
    for (const [k, n] of Object.entries(s.kindsOut)) c.kindsOut[k] = (c.kindsOut[k] ?? 0) + n;
    for (const [k, n] of Object.entries(s.kindsIn)) c.kindsIn[k] = (c.kindsIn[k] ?? 0) + n;
  }

  /** Traffic since the node started (closed links and live ones), and the state of each peer. */
  traffic(): {
    totals: ClusterNode['counters'];
    peers: Array<{ name: string; up: boolean; partitioned: boolean }>;
  } {
    const totals = {
      ...this.counters,
      kindsOut: { ...this.counters.kindsOut },
      kindsIn: { ...this.counters.kindsIn },
    };
    const peers: Array<{ name: string; up: boolean; partitioned: boolean }> = [];
    for (const peer of this.peers.values()) {
      const link = peer.link;
      peers.push({
        name: peer.name,
        up: link !== null,
        partitioned: this.faults.get(peer.name)?.partitioned === true,
      });
      if (!link) continue;
      const s = link.stats;
      totals.framesOut += s.framesOut;
      totals.framesIn += s.framesIn;
      totals.bytesOut += s.bytesOut;
      totals.bytesIn += s.bytesIn;
      for (const [k, n] of Object.entries(s.kindsOut))
        totals.kindsOut[k] = (totals.kindsOut[k] ?? 0) + n;
      for (const [k, n] of Object.entries(s.kindsIn))
        totals.kindsIn[k] = (totals.kindsIn[k] ?? 0) + n;
    }
    return { totals, peers };
  }

  private heartbeat(): void {
    const now = performance.now();
    for (const peer of this.peers.values()) {
      const link = peer.link;
      if (!link) continue;
      // Heartbeat intervals in which nothing at all was heard from the peer.
      const missed = Math.max(
        0,
        Math.floor((now - link.lastHeardMs) / this.settings.heartbeatIntervalMs) - 1,
      );
      if (missed > link.missedCounted)
        this.counters.heartbeatsMissed += missed - link.missedCounted;
      link.missedCounted = missed;
      if (now - link.lastHeardMs > this.settings.nodeDownAfterMs) {
        link.close(4000, `no heartbeat for ${Math.round(now - link.lastHeardMs)} ms`);
        continue;
      }
      if (now - link.lastSentMs >= this.settings.heartbeatIntervalMs) link.send({ kind: 'ping' });
    }
  }

  private emit(event: NodeEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  random01(): number {
    return this.random();
  }
}

/** Reads handshake frames from a socket one at a time, with a timeout. */
class FrameReader {
  private readonly ws: WebSocket;
  /** Raw frames not yet read; after the handshake they belong to the Link. */
  private readonly frames: Array<{ data: Buffer; isBinary: boolean }> = [];
  private waiter: (() => void) | null = null;
  private failure: Error | null = null;
  private readonly onMessage = (data: RawData, isBinary: boolean) => {
    const buffer = Buffer.isBuffer(data)
      ? data
      : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]);
    this.frames.push({ data: buffer, isBinary });
    this.wake();
  };
  private readonly onClose = () => this.fail(new Error('closed during handshake'));
  private readonly onError = (err: Error) => this.fail(err);

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', this.onMessage);
    ws.on('close', this.onClose);
    ws.on('error', this.onError);
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wake();
  }

  opened(timeoutMs: number): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connect timed out')), timeoutMs);
      this.ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      this.ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      this.ws.once('close', () => {
        clearTimeout(timer);
        reject(new Error('closed before open'));
      });
    });
  }

  /** The next handshake message; null for a frame that is not one. Rejects if the socket closed. */
  async next(timeoutMs: number): Promise<HandshakeMsg | null> {
    if (this.frames.length === 0) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.waiter = null;
          reject(new Error('handshake timed out'));
        }, timeoutMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const frame = this.frames.shift();
    if (!frame) throw this.failure ?? new Error('closed during handshake');
    if (!frame.isBinary || frame.data.length > HANDSHAKE_FRAME_BYTES_MAX) return null;
    return decodeHandshake(frame.data);
  }

  /** Stops reading and returns the frames that arrived after the handshake, for the Link. */
  detach(): Array<{ data: Buffer; isBinary: boolean }> {
    this.ws.off('message', this.onMessage);
    this.ws.off('close', this.onClose);
    this.ws.off('error', this.onError);
    return this.frames.splice(0);
  }
}

/** Throws invalid_argument for a listen that would expose the cluster (see NodeOptions). */
function checkListen(settings: Settings): void {
  const { host, advertise, tls, name } = settings;
  if (isIP(host.replace(/^\[|\]$/g, '')) === 0 && host !== 'localhost') {
    throw new ActorError(
      'invalid_argument',
      `host must be an IP address to listen on (or localhost), got ${JSON.stringify(host)}`,
    );
  }
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]';
  if (wildcard && advertise === undefined) {
    throw new ActorError(
      'invalid_argument',
      `listening on ${host} (every interface) needs advertise: the address peers should dial, e.g. 10.1.0.2`,
    );
  }
  if (advertise !== undefined) {
    const a = parseAddress(advertise, 'advertise');
    if (a.host === '0.0.0.0' || a.host === '::' || a.host === '[::]')
      throw new ActorError(
        'invalid_argument',
        `advertise must be an address peers can dial, not ${a.host}`,
      );
  }
  if (!isLoopback(host) && !tls && !settings.insecure) {
    throw new ActorError(
      'invalid_argument',
      `listening on ${host} beyond loopback needs TLS (tls: certificates from npm run certs), or insecure: true to accept plain ws:// that only the cookie protects`,
    );
  }
  if (tls) checkTls(tls, name);
}

/**
 * The ws client's TLS options: our certificate, the CA, and the peer's name checked (`peer`
 * null: any name, told to `seen`; the caller checks it).
 */
function tlsClientOptions(
  tls: TlsConfig,
  peer: string | null,
  address: string,
  seen?: (name: string | null) => void,
): object {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2',
    // The certificate names the node, not the host: check the name, not the address.
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined => {
      const named = certNodeName(cert);
      seen?.(named);
      return peer === null || named === peer
        ? undefined
        : new Error(
            `the node at ${address} has a certificate for ${named ?? 'no name'}, not ${peer}`,
          );
    },
  };
}

function isTlsFailure(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  return (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    /CERT|certificate|SSL|TLS|alert/.test(`${code} ${message}`)
  );
}

function zeroMask(mask: Buffer): void {
  mask.fill(0);
}

function positive(value: number | undefined, fallback: number, what: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    throw new ActorError(
      'invalid_argument',
      `${what} must be a positive number, got ${String(value)}`,
    );
  }
  return value;
}
