// TLS between nodes on loopback: mutual authentication against the cluster CA, the certificate
// must name the node, wrong CAs and missing certificates refused; certificates made by
// `npm run certs`' code; the listen rules (beyond loopback needs TLS or an explicit opt-out); join
// by address with discovery. The same across network namespaces: netns.test.ts.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { call } from '../../actors/index.ts';
import {
  decodeHandshake,
  encodeHandshake,
  newNonce,
  PROTOCOL_VERSION,
} from '../../transport/handshake.ts';
import { type LaunchedNode, launchNode, Node, spawnOn } from '../../transport/index.ts';
import { parseFullName } from '../../transport/names.ts';
import { ClusterNode } from '../../transport/node.ts';
import { checkTls, loadTls, makeCa, makeNodeCert, writeCerts } from '../../transport/tls.ts';
import { captureLogs, WAIT_MS } from '../helpers.ts';
import { COOKIE, DOWN_AFTER_MS, FIXTURES, HEARTBEAT_MS } from './cluster-helpers.ts';

const hasIpv6Loopback = () =>
  Object.values(networkInterfaces()).some((addrs) => addrs?.some((a) => a.address === '::1'));

const dir = mkdtempSync(join(tmpdir(), 'ac-tls-'));
const certs = join(dir, 'certs');
const otherCa = join(dir, 'other');
const launched: LaunchedNode[] = [];
let port: number;

beforeAll(async () => {
  writeCerts(certs, ['t', 'p1', 'p2', 'p3']);
  writeCerts(otherCa, ['p1', 'p4']); // same names, another CA
  await Node.start({
    name: 't',
    cookie: COOKIE,
    heartbeatIntervalMs: HEARTBEAT_MS,
    nodeDownAfterMs: DOWN_AFTER_MS,
    tls: loadTls(certs, 't'),
  });
  port = parseFullName(Node.self()).port;
});

afterAll(async () => {
  for (const n of launched) n.kill('SIGKILL');
  await Promise.all(launched.map((n) => n.exited));
  await Node.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function launch(
  name: string,
  tls: string | undefined,
  join: string[] = [Node.self()],
): Promise<LaunchedNode> {
  const n = await launchNode({
    name,
    cookie: COOKIE,
    join,
    load: [FIXTURES],
    heartbeatIntervalMs: HEARTBEAT_MS,
    nodeDownAfterMs: DOWN_AFTER_MS,
    ...(tls ? { tls } : {}),
  });
  launched.push(n);
  return n;
}

/** A raw TLS WebSocket to node t, presenting `client`'s certificate (or none). */
function rawWss(client: { cert: string; key: string } | null, ca: string): Promise<WebSocket> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/`, {
    perMessageDeflate: false,
    ca,
    ...(client ?? {}),
    checkServerIdentity: () => undefined,
  } as object);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
    ws.once('close', () => reject(new Error('closed before open')));
  });
}

describe('certificates', () => {
  it('npm run certs material: a CA, and per node a certificate naming it, signed by the CA', () => {
    const tls = loadTls(certs, 'p1');
    expect(tls.cert).toMatch(/BEGIN CERTIFICATE/);
    expect(() => checkTls(tls, 'p2')).toThrow(/certificate is for p1, not for node p2/);
    const foreign = { ...tls, ca: readFileSync(join(otherCa, 'ca.crt'), 'utf8') };
    expect(() => checkTls(foreign, 'p1')).toThrow(/not signed by the given CA/);
    expect(() => loadTls(certs, 'p9')).toThrow(/no certificate for p9 at .*p9\.crt/);
    expect(() => loadTls(certs, '9bad')).toThrow(/a node name must be/);
    // Keys are for their owner only.
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(join(certs, 'p1.key'))).toBe(0o600);
    expect(mode(join(certs, 'ca.key'))).toBe(0o600);
  });

  it('a CA in the directory is reused: certificates made later link with earlier ones', () => {
    const before = readFileSync(join(certs, 'ca.crt'), 'utf8');
    writeCerts(certs, ['late']);
    expect(readFileSync(join(certs, 'ca.crt'), 'utf8')).toBe(before);
    expect(() => loadTls(certs, 'late')).not.toThrow();
  });
});

describe('TLS links', () => {
  it('two nodes with certificates from one CA link over wss:// and carry messages', async () => {
    const p1 = await launch('p1', certs);
    expect(Node.list()).toContain(p1.name);
    const calc = await spawnOn(p1.name, 'Fx.calc');
    expect(await call(calc, { op: 'add', a: 2, b: 3 })).toBe(5);
  });

  it('plain ws:// to a TLS node gets nowhere', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    const outcome = await new Promise<string>((resolve) => {
      ws.once('open', () => resolve('open'));
      ws.once('error', (err) => resolve(`error: ${err.message}`));
    });
    expect(outcome).toMatch(/^error/);
  });

  it('a node whose certificate another CA signed is refused in the TLS handshake, both ways', async () => {
    const { lines, result } = await captureLogs(() => launch('p4', otherCa));
    expect(Node.list()).not.toContain(result.name);
    await expect
      .poll(() => lines.some((l) => /refused TLS connection/.test(String(l.msg))), {
        timeout: WAIT_MS,
      })
      .toBe(true);
    // And t dialing it: p4's certificate is not from t's CA.
    expect(await Node.connect(result.name)).toBe(false);
    result.kill();
  });

  it('a client with no certificate is cut in the TLS handshake', async () => {
    const ca = readFileSync(join(certs, 'ca.crt'), 'utf8');
    const outcome = await rawWss(null, ca).then(
      (ws) =>
        new Promise<string>((resolve) => {
          // TLS 1.3: the server's verdict on the client arrives after the client's finish.
          ws.once('close', () => resolve('closed'));
          ws.once('error', (err) => resolve(`error: ${err.message}`));
          ws.send(
            encodeHandshake({
              h: 'hello',
              v: PROTOCOL_VERSION,
              name: 'x@127.0.0.1:1',
              creation: 1,
              nonce: newNonce(),
            }),
          );
        }),
      (err: Error) => `error: ${err.message}`,
    );
    expect(outcome).not.toBe('open');
  });

  it("a valid certificate for another node is refused: the hello's name must match it", async () => {
    const ca = readFileSync(join(certs, 'ca.crt'), 'utf8');
    const p3 = loadTls(certs, 'p3');
    const ws = await rawWss(p3, ca);
    ws.send(
      encodeHandshake({
        h: 'hello',
        v: PROTOCOL_VERSION,
        name: 'p2@127.0.0.1:1',
        creation: 1,
        nonce: newNonce(),
      }),
    );
    const reply = await new Promise<Buffer>((resolve) =>
      ws.once('message', (d) => resolve(d as Buffer)),
    );
    expect(decodeHandshake(reply)).toMatchObject({
      h: 'refuse',
      reason: 'its certificate is for p3, not for p2',
    });
    ws.close();
  });

  it('the dialer checks the name too: a node at that address with another name is not linked', async () => {
    const p2 = await launch('p2', certs, []);
    const { port: p2port } = parseFullName(p2.name);
    const { lines, result } = await captureLogs(() => Node.connect(`p3@127.0.0.1:${p2port}`));
    expect(result).toBe(false);
    expect(lines.some((l) => /certificate for p2, not p3/.test(String(l.msg)))).toBe(true);
    expect(await Node.connect(p2.name)).toBe(true);
  });
});

describe('join by address', () => {
  it('a node joins over TLS by host:port alone: the handshake says who is there', async () => {
    writeCerts(certs, ['p5']);
    const p1 = launched.find((n) => n.name.startsWith('p1@'))!;
    const { port: p1port } = parseFullName(p1.name);
    const p5 = await launch('p5', certs, [`127.0.0.1:${p1port}`]);
    await expect.poll(() => Node.list().includes(p5.name), { timeout: WAIT_MS }).toBe(true);
  });

  it('one member is enough: every node a peer knows gets linked, hop by hop', async () => {
    // Bare nodes (no kernel, no observer, no global names): only the links' own exchange of
    // the nodes they know can link c to b and d.
    const bare = (name: string) =>
      ClusterNode.listen({ name, cookie: COOKIE, heartbeatIntervalMs: HEARTBEAT_MS });
    const [a, b, c, d] = await Promise.all([bare('da'), bare('db'), bare('dc'), bare('dd')]);
    try {
      expect(await b.connect(a.name)).toBe(true);
      expect(await d.connect(b.name)).toBe(true); // d is two hops from a: a - b - d
      const { port: aport } = parseFullName(a.name);
      expect(await c.join(`127.0.0.1:${aport}`)).toBe(a.name);
      await expect
        .poll(() => c.connected().sort(), { timeout: WAIT_MS })
        .toEqual([a.name, b.name, d.name].sort());
      expect(await c.whoIsAt(`127.0.0.1:${parseFullName(d.name).port}`)).toBe(d.name);
    } finally {
      await Promise.all([a, b, c, d].map((n) => n.stop()));
    }
  });

  it('a join address with nobody there fails with noconnection and says where', async () => {
    await expect(Node.join('127.0.0.1:1')).rejects.toMatchObject({
      code: 'noconnection',
      message: expect.stringContaining('127.0.0.1:1'),
    });
    await expect(Node.join('127.0.0.1')).rejects.toMatchObject({ code: 'invalid_argument' });
  });
});

describe('where a node may listen', () => {
  it('beyond loopback without TLS is refused unless insecure is set, then warned about', async () => {
    await expect(
      ClusterNode.listen({ name: 'x', cookie: COOKIE, host: '0.0.0.0' }),
    ).rejects.toThrow(/needs advertise/);
    await expect(
      ClusterNode.listen({ name: 'x', cookie: COOKIE, host: '0.0.0.0', advertise: '127.0.0.1' }),
    ).rejects.toThrow(/beyond loopback needs TLS/);
    await expect(
      ClusterNode.listen({ name: 'x', cookie: COOKIE, host: 'example.org' }),
    ).rejects.toThrow(/must be an IP address/);
    await expect(
      ClusterNode.listen({ name: 'x', cookie: COOKIE, advertise: 'a b' }),
    ).rejects.toThrow(/advertise must be host or host:port/);
    const { lines, result: node } = await captureLogs(() =>
      ClusterNode.listen({
        name: 'x',
        cookie: COOKIE,
        host: '0.0.0.0',
        advertise: '127.0.0.1:4999',
        insecure: true,
      }),
    );
    expect(node.name).toBe('x@127.0.0.1:4999');
    expect(lines.some((l) => /without TLS/.test(String(l.msg)))).toBe(true);
    await node.stop();
  });

  it.skipIf(!hasIpv6Loopback())(
    'IPv6: a node on ::1 is named with brackets, and others reach it',
    async () => {
      const v6 = await ClusterNode.listen({ name: 'v6', cookie: COOKIE, host: '::1' });
      const other = await ClusterNode.listen({ name: 'v6b', cookie: COOKIE, host: '[::1]' });
      try {
        expect(v6.name).toMatch(/^v6@\[::1\]:\d+$/);
        expect(await other.connect(v6.name)).toBe(true);
      } finally {
        await Promise.all([v6.stop(), other.stop()]);
      }
    },
  );

  it('a node refuses to start with a certificate for another name or a key that does not fit', async () => {
    const ca = makeCa();
    const a = makeNodeCert(ca, 'a');
    const b = makeNodeCert(ca, 'b');
    await expect(
      ClusterNode.listen({ name: 'b', cookie: COOKIE, tls: { ca: ca.cert, ...a } }),
    ).rejects.toThrow(/certificate is for a, not for node b/);
    await expect(
      ClusterNode.listen({
        name: 'a',
        cookie: COOKIE,
        tls: { ca: ca.cert, cert: a.cert, key: b.key },
      }),
    ).rejects.toThrow(/key does not belong to the certificate/);
  });
});
