// A cluster across hosts: three Linux network namespaces on one bridge (scripts/support/netns.ts),
// one node per namespace on its own address, TLS between them. Shows the TLS handshake across
// hosts, a certificate from another CA and a wrong name refused, remote calls across hosts, and a
// partition by taking a host's link down, then its heal. Needs root (CI is root); elsewhere the
// file is skipped with the reason printed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHosts,
  type Hosts,
  namespaces,
  netnsUnavailable,
} from '../../scripts/support/netns.ts';
import { type LaunchedNode, type LaunchOptions, launchNode } from '../../transport/index.ts';
import { writeCerts } from '../../transport/tls.ts';
import { WAIT_MS } from '../helpers.ts';
import { Session } from '../session.ts';
import { COOKIE, FIXTURES } from './cluster-helpers.ts';

const unavailable = netnsUnavailable();
if (unavailable) console.log(`netns.test.ts skipped: ${unavailable}`);

const PORT = 4000;
const HEARTBEAT_MS = 100;
const DOWN_AFTER_MS = 800;
const SERVICES = `Services=${resolve('apps/services.ts')}`;

describe.skipIf(unavailable !== null)('nodes on three hosts (network namespaces)', () => {
  let net: Hosts;
  const dir = mkdtempSync(join(tmpdir(), 'ac-netns-'));
  const certs = join(dir, 'certs');
  const otherCa = join(dir, 'other');
  const launched: LaunchedNode[] = [];
  const address = (i: number) => `${net.hosts[i - 1]!.address}:${PORT}`;
  const nodeOn = (name: string, i: number) => `${name}@${address(i)}`;

  beforeAll(() => {
    net = createHosts(3);
    writeCerts(certs, ['p1', 'p2', 'p3', 'p5', 'probe']);
    writeCerts(otherCa, ['p4']);
  });

  afterAll(async () => {
    for (const n of launched) n.kill('SIGKILL');
    await Promise.all(launched.map((n) => n.exited));
    net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function launchOn(
    i: number,
    name: string,
    extra: Partial<LaunchOptions> = {},
  ): Promise<LaunchedNode> {
    const n = await launchNode({
      name,
      cookie: COOKIE,
      netns: net.hosts[i - 1]!.ns,
      host: net.hosts[i - 1]!.address,
      port: PORT,
      tls: certs,
      load: [FIXTURES],
      heartbeatIntervalMs: HEARTBEAT_MS,
      nodeDownAfterMs: DOWN_AFTER_MS,
      env: { LOG_LEVEL: 'info' },
      ...extra,
    });
    launched.push(n);
    return n;
  }

  const count = (n: LaunchedNode, text: string) => n.output().split(text).length - 1;

  it('three nodes on three hosts link over TLS, each joined through one address', async () => {
    const p1 = await launchOn(1, 'p1');
    const p2 = await launchOn(2, 'p2', { join: [address(1)] });
    const p3 = await launchOn(3, 'p3', { join: [address(2)] });
    expect([p1.name, p2.name, p3.name]).toEqual([
      nodeOn('p1', 1),
      nodeOn('p2', 2),
      nodeOn('p3', 3),
    ]);
    // p3 joined through p2 only; it learns p1 from p2 and links to it across the bridge.
    await expect.poll(() => p1.output(), { timeout: WAIT_MS }).toContain(`node up: ${p3.name}`);
    await expect.poll(() => p3.output(), { timeout: WAIT_MS }).toContain(`node up: ${p1.name}`);
    expect(p2.output()).toContain(`node up: ${p1.name}`);
  });

  it('a process on a fourth node calls processes on all three hosts', async () => {
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
      (resolve) => {
        const child = spawn(
          'ip',
          [
            'netns',
            'exec',
            net.hosts[0]!.ns,
            process.execPath,
            '--import',
            'tsx',
            'test/transport/netns-probe.ts',
            certs,
            net.hosts[0]!.address,
            address(3),
            '3',
          ],
          {
            env: { ...process.env, ACTORCLUSTER_COOKIE: COOKIE, LOG_LEVEL: 'warn' },
            // A probe that hangs is killed (it then fails the test on its exit code).
            timeout: WAIT_MS * 6,
            killSignal: 'SIGKILL',
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (c: Buffer) => {
          stdout += c;
        });
        child.stderr.on('data', (c: Buffer) => {
          stderr += c;
        });
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      },
    );
    expect(out.code, out.stderr).toBe(0);
    const result = JSON.parse(out.stdout.trim().split('\n').pop()!) as {
      self: string;
      linked: string[];
      sums: Record<string, number>;
    };
    expect(result.self).toMatch(/^probe@10\.213\.0\.1:\d+$/);
    const nodes = [nodeOn('p1', 1), nodeOn('p2', 2), nodeOn('p3', 3)];
    expect(result.linked).toEqual(nodes);
    expect(result.sums).toEqual(Object.fromEntries(nodes.map((n) => [n, 5])));
  });

  it('a node whose certificate another CA signed is refused in the TLS handshake', async () => {
    const p4 = await launchOn(3, 'p4', { port: PORT + 4, tls: otherCa, join: [address(1)] });
    const p1 = launched[0]!;
    // p4 does not trust p1's certificate (another CA), nor would p1 trust p4's.
    await expect
      .poll(() => p4.output(), { timeout: WAIT_MS })
      .toMatch(
        /could not join 10\.213\.0\.1:4000: cannot reach a node at 10\.213\.0\.1:4000: .*certificate/,
      );
    expect(p1.output()).not.toContain('node up: p4@');
    p4.kill();
  });

  it('a node at an address that is not the one named is not linked (its certificate says who)', async () => {
    const p5 = await launchOn(2, 'p5', { port: PORT + 5, join: [`p9@${address(1)}`] });
    await expect
      .poll(() => p5.output(), { timeout: WAIT_MS })
      .toMatch(/certificate for p1, not p9/);
    expect(p5.output()).not.toContain('node up: p9@');
    p5.kill();
  });

  it('taking a host link down partitions that host; bringing it up heals', async () => {
    const [p1, p2, p3] = launched as [LaunchedNode, LaunchedNode, LaunchedNode];
    const downs = count(p1, `node down: ${p3.name}`);
    const ups = count(p1, `node up: ${p3.name}`);
    net.cut(3);
    await expect
      .poll(() => count(p1, `node down: ${p3.name}`), { timeout: WAIT_MS })
      .toBeGreaterThan(downs);
    await expect
      .poll(() => count(p3, `node down: ${p2.name}`), { timeout: WAIT_MS })
      .toBeGreaterThan(0);
    net.heal(3);
    await expect
      .poll(() => count(p1, `node up: ${p3.name}`), { timeout: WAIT_MS * 2 })
      .toBeGreaterThan(ups);
  });
});

describe.skipIf(unavailable !== null)('the README walkthrough: an inventory on three hosts', () => {
  // The README's transcript is this test's session: WALKTHROUGH_OUT=FILE writes it there.
  let net: Hosts;
  const dir = mkdtempSync(join(tmpdir(), 'ac-walk-'));
  const certs = join(dir, 'certs');
  const launched: LaunchedNode[] = [];
  let session: Session | undefined;
  const PROMPT = 'actorcluster> ';
  const typed: string[] = [];

  beforeAll(() => {
    net = createHosts(3);
    writeCerts(certs, ['p1', 'p2', 'p3', 'p4', 'admin']);
  });

  afterAll(async () => {
    session?.kill();
    for (const n of launched) n.kill('SIGKILL');
    await Promise.all(launched.map((n) => n.exited));
    net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const host = (i: number) => net.hosts[i - 1]!;
  const launch = async (i: number, name: string, port: number, members: string[]) => {
    const n = await launchNode({
      name,
      cookie: COOKIE,
      netns: host(i).ns,
      host: host(i).address,
      port,
      tls: certs,
      join: members,
      load: [SERVICES],
      heartbeatIntervalMs: HEARTBEAT_MS,
      nodeDownAfterMs: DOWN_AFTER_MS,
      env: {
        LOG_LEVEL: 'info',
        ACTORCLUSTER_PAXOS_STORAGE: 'lmdb',
        ACTORCLUSTER_DATA_DIR: join(dir, name),
      },
    });
    launched.push(n);
    return n;
  };
  /** Types a line at the prompt; returns what it printed. */
  const type = async (line: string) => {
    const out = await session!.line(line, PROMPT);
    typed.push(
      `${PROMPT}${line}`,
      ...out
        .trimEnd()
        .split('\n')
        .filter((l) => l !== ''),
    );
    return out;
  };

  it('start, join, kill a host, add a replica on a new node, remove the dead one', async () => {
    await launch(1, 'p1', PORT, []);
    await launch(2, 'p2', PORT, [`${host(1).address}:${PORT}`]);
    const p3 = await launch(3, 'p3', PORT, [`${host(2).address}:${PORT}`]);
    session = new Session(
      'ip',
      [
        'netns',
        'exec',
        host(1).ns,
        process.execPath,
        '--import',
        'tsx',
        'scripts/repl.ts',
        '--name',
        'admin',
        '--tls',
        certs,
        '--listen',
        `${host(1).address}:4100`,
        '--join',
        `${host(1).address}:${PORT}`,
      ],
      { ACTORCLUSTER_COOKIE: COOKIE, LOG_LEVEL: 'warn' },
    );
    await session.waitFor(PROMPT);
    await expect
      .poll(async () => (await type('Node.list().length')).trim(), { timeout: WAIT_MS })
      .toBe('3');
    typed.length = 0; // the transcript starts with the cluster up
    expect(await type('Node.list()')).toContain('p3@10.213.0.3:4000');
    await type("procs = ['p1', 'p2', 'p3']");
    expect(
      await type(
        // biome-ignore lint/suspicious/noTemplateCurlyInString: typed at the REPL as it stands
        "pids = await Promise.all(procs.map((p) => spawnOn(Node.list().find((n) => n.startsWith(`${p}@`)), 'Services.inventory', [p, procs])))",
      ),
    ).toMatch(/\[ #PID<p1\.\d+>, #PID<p2\.\d+>, #PID<p3\.\d+> \]/);
    expect(await type("await InventoryServer.add(pids[0], 'apple', 10)")).toContain(
      '{ ok: true, stock: { apple: 10 } }',
    );
    // Host 3 dies (kill -9 of its node); two of three replicas still decide.
    p3.kill('SIGKILL');
    await p3.exited;
    typed.push('(host 3: kill -9 of node p3)');
    expect(await type("await InventoryServer.remove(pids[1], 'apple', 3)")).toContain(
      '{ ok: true, stock: { apple: 7 } }',
    );
    // A new node on host 3 (another port); the replica p4 is added on it, p3 removed.
    const p4 = await launch(3, 'p4', PORT + 1, [`${host(1).address}:${PORT}`]);
    typed.push(
      `(host 3: npm run node -- --name p4 --tls ./certs --listen ${host(3).address}:${PORT + 1} --join ${host(1).address}:${PORT} --load Services=apps/services.ts)`,
    );
    await expect
      .poll(async () => await session!.line(`Node.list().includes('${p4.name}')`, PROMPT), {
        timeout: WAIT_MS,
      })
      .toContain('true');
    expect(await type('Node.list()')).toContain(p4.name);
    const added = await type(
      `await InventoryServer.addReplica(pids[0], 'p4', { node: '${p4.name}' })`,
    );
    expect(added).toMatch(/epoch: 1,\s+members: \[ 'p1', 'p2', 'p3', 'p4' \]/);
    expect(await type("await InventoryServer.removeReplica(pids[0], 'p3')")).toMatch(
      /epoch: 2, members: \[ 'p1', 'p2', 'p4' \]/,
    );
    expect(await type("await InventoryServer.view('p4')")).toContain('{ apple: 7 }');
    expect(await type("await InventoryServer.add('p4', 'pear', 2)")).toContain(
      '{ ok: true, stock: { pear: 2 } }',
    );
    expect(await type("(await InventoryServer.status('p2')).members")).toContain(
      "[ 'p1', 'p2', 'p4' ]",
    );
    if (process.env.WALKTHROUGH_OUT)
      writeFileSync(process.env.WALKTHROUGH_OUT, `${typed.join('\n')}\n`);
  });
});

describe.skipIf(unavailable !== null)('namespaces a killed run left behind', () => {
  it('are deleted by the next createHosts (their maker is dead)', async () => {
    const leaver = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'netns-leaver.ts')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const exited = new Promise((done) => leaver.once('exit', done));
    let out = '';
    const tag = await new Promise<string>((done, fail) => {
      leaver.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) done(out.trim());
      });
      leaver.once('exit', () => fail(new Error(`the leaver exited first: ${out}`)));
    });
    leaver.kill('SIGKILL');
    await exited;
    const left = namespaces().filter((ns) => ns.startsWith(`${tag}-`));
    expect(left.sort()).toEqual([`${tag}-h1`, `${tag}-hub`]);
    const next = createHosts(1);
    try {
      expect(namespaces().filter((ns) => ns.startsWith(`${tag}-`))).toEqual([]);
      // The live maker's own namespaces (this process's) are kept.
      expect(namespaces()).toContain(next.hub);
    } finally {
      next.destroy();
    }
  });
});
