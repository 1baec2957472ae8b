// `npm run dashboard` end to end: the script runs as a child process (its own process group,
// with its node processes), and a headless Chromium drives the page as a user would: it sees
// the nodes and links, adds inventory and watches the decision, kills a replica process, kills
// and restarts a node, partitions and heals a link. The JSON API is checked directly too.
// A second dashboard runs its services on EPaxos (--protocol epaxos): the page shows the
// instances with their deps and the path taken, and the EPaxos messages.
// DASHBOARD_SCREENSHOT=1 also saves docs/dashboard.png and docs/dashboard-epaxos.png.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { get } from 'node:http';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveInGroup } from '../session.ts';
import { browserSource, launchBrowser } from './browser.ts';

const START_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 30_000;
// The npm-shipped Chromium unpacks itself on first use (seen: 2 to 12 s).
const BROWSER_START_TIMEOUT_MS = 90_000;
const TSX = ['--import', 'tsx'];

interface ProcessView {
  pid: string;
  id: number;
  creation: number;
  label: string;
}
interface NodeSnapshot {
  node: string;
  peers: string[];
  faults: Record<string, { partitioned?: boolean }>;
  processes: ProcessView[];
  probes: Array<{ kind: string; owner: string; data: Record<string, unknown> }>;
  paxos: Array<{ type: string; inst: number; participant: string }>;
  epaxos: Array<{ type: string; inst: string; partition: string; from: string; to: string }>;
}
interface State {
  self: string;
  nodes: NodeSnapshot[];
  cluster: { names: string[]; nodes: Record<string, string | null> };
}

let child: ChildProcess | undefined;
let output = '';
let url = '';
let browser: Browser | undefined;
let page: Page;

function killGroup(proc = child): void {
  if (!proc?.pid) return;
  try {
    process.kill(-proc.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

/** Polls `cond` until it returns a truthy value (which it resolves to). */
async function until<T>(
  what: string,
  cond: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = STEP_TIMEOUT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function state(at = url): Promise<State> {
  const res = await fetch(`${at}api/state`);
  expect(res.status).toBe(200);
  return (await res.json()) as State;
}

async function post(path: string, body: unknown, contentType = 'application/json') {
  const res = await fetch(`${url}api/${path}`, {
    method: 'POST',
    headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { ok: boolean; error?: string } };
}

const testId = (id: string, state?: string) =>
  page.locator(`[data-testid="${id}"]${state ? `[data-state="${state}"]` : ''}`);

/** Waits until the element with this test id shows `state`. */
const shows = (id: string, state: string) =>
  testId(id, state).waitFor({ state: 'attached', timeout: STEP_TIMEOUT_MS });

const snapOf = (s: State, short: string) => s.nodes.find((n) => n.node.startsWith(`${short}@`));

/** Starts `npm run dashboard` (its own process group) with `extra` options; `tag` marks its output. */
function spawnDashboard(extra: string[], tag = ''): { proc: ChildProcess; url: Promise<string> } {
  const proc = spawn(
    process.execPath,
    [...TSX, 'scripts/dashboard.ts', '--port', '0', '--exit-with-parent', ...extra],
    {
      env: { ...process.env, LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let own = '';
  const collect = (chunk: Buffer) => {
    own += chunk.toString();
    output += tag ? chunk.toString().replace(/^(?=.)/gm, tag) : chunk.toString();
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const address = until(
    `the dashboard ${tag}prints its address`,
    () => {
      if (proc.exitCode !== null) throw new Error(`the dashboard ${tag}exited:\n${output}`);
      return own.match(/dashboard on (http:\/\/127\.0\.0\.1:\d+\/)/)?.[1];
    },
    START_TIMEOUT_MS,
  );
  return { proc, url: address };
}

beforeAll(async () => {
  const started = spawnDashboard([]);
  child = started.proc;
  url = await started.url;
}, START_TIMEOUT_MS + 20_000);

afterAll(async () => {
  await browser?.close().catch(() => {});
  killGroup();
});

// These need no browser: they run (and can fail) even where no Chromium starts.
describe('npm run dashboard: options and the HTTP API', () => {
  it('explains itself with --help; refuses bad options with exit code 2', () => {
    const help = spawnSync(process.execPath, [...TSX, 'scripts/dashboard.ts', '--help'], {
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run dashboard');
    expect(help.stdout).toContain('--exit-with-parent');
    for (const args of [['--nodes', '0'], ['--port', 'x'], ['--bogus']]) {
      const bad = spawnSync(process.execPath, [...TSX, 'scripts/dashboard.ts', ...args], {
        encoding: 'utf8',
      });
      expect(bad.status, bad.stderr).toBe(2);
    }
  }, 30_000);

  it('GET /api/state: every node snapshot and the cluster', async () => {
    const s = await state();
    expect(s.self).toMatch(/^dash@127\.0\.0\.1:\d+$/);
    expect(s.cluster.names).toEqual(['p1', 'p2', 'p3']);
    for (const name of s.cluster.names) {
      expect(s.cluster.nodes[name]).toMatch(new RegExp(`^${name}@127\\.0\\.0\\.1:\\d+$`));
      const snap = snapOf(s, name);
      expect(snap, `no snapshot of ${name}`).toBeDefined();
      expect(snap!.processes.some((p) => p.label === 'Supervisor')).toBe(true);
      const kinds = snap!.probes.map((p) => `${p.kind}:${p.data.service ?? ''}`).sort();
      expect(kinds).toEqual(['paxos:', 'paxos:', 'replica:inventory', 'replica:seats']);
    }
    const page = await fetch(url);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('data-testid="add-form"');
  });

  it('refuses bad actions with 400 (and oversized, non-JSON or foreign requests)', async () => {
    const cases: Array<[string, unknown]> = [
      ['kill-node', { name: 'p9' }],
      ['kill-node', {}],
      ['start-node', { name: 'p1' }], // up already
      ['kill-process', { node: 'p1', id: 'x', creation: 1 }],
      ['kill-process', { node: 'p1', id: 999_999, creation: 1 }],
      ['kill-process', { node: 'nowhere', id: 1, creation: 1 }],
      ['restart-replica', { service: 'teapots', name: 'p1' }],
      ['partition', { a: 'p1', b: 'p1' }],
      ['partition', { a: 'p1', b: 'dash' }],
      ['heal', { a: 'p1' }],
      ['inventory/add', { replica: 'p1', item: 'apple', qty: -1 }],
      ['inventory/add', { replica: 'p7', item: 'apple', qty: 1 }],
      ['inventory/add', { replica: 'p1', item: '', qty: 1 }],
      ['kill-node', '{not json'],
      ['kill-node', '[1, 2]'],
    ];
    for (const [path, body] of cases) {
      const { status, json } = await post(path, body);
      expect(status, `${path} ${JSON.stringify(body)}`).toBe(400);
      expect(json.ok).toBe(false);
      expect(json.error).toBeTruthy();
    }
    expect((await post('kill-node', { name: 'p1' }, 'text/plain')).status).toBe(415);
    expect((await post('nothing', {})).status).toBe(404);
    expect((await post('kill-node', { name: 'x'.repeat(20_000) })).status).toBe(413);
    // a page of another site reaching 127.0.0.1 through DNS (rebinding) names its own host
    const foreign = await new Promise<number | undefined>((resolve, reject) => {
      const { port } = new URL(url);
      get(
        { host: '127.0.0.1', port, path: '/api/state', headers: { host: 'example.com' } },
        (res) => {
          res.resume();
          resolve(res.statusCode);
        },
      ).on('error', reject);
    });
    expect(foreign).toBe(403);
    // still serving
    expect((await state()).cluster.names).toHaveLength(3);
  });
});

describe(`npm run dashboard: the page in headless Chromium (${browserSource()})`, () => {
  beforeAll(async () => {
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (err) => {
      output += `\n[page error] ${err.message}\n`;
    });
  }, BROWSER_START_TIMEOUT_MS);

  it('the page shows three nodes with their links up', async () => {
    await page.goto(url);
    for (const n of ['p1', 'p2', 'p3']) await shows(`node-${n}`, 'up');
    for (const l of ['p1-p2', 'p1-p3', 'p2-p3']) await shows(`link-${l}`, 'up');
    for (const n of ['p1', 'p2', 'p3'])
      for (const svc of ['inventory', 'seats']) await shows(`replica-${svc}-${n}`, 'up');
    // the supervision trees show each replica's Supervisor with a kill button per process
    const s = await state();
    const sup = snapOf(s, 'p1')!.processes.find((p) => p.label === 'Supervisor')!;
    await testId(`kill-${sup.pid}`).waitFor({ timeout: STEP_TIMEOUT_MS });
  });

  it('adding inventory through the form: a decision in the table, the diagram and every replica', async () => {
    const item = `pear${Date.now() % 100_000}`;
    const form = testId('add-form');
    await form.locator('select[name="replica"]').selectOption('p2');
    await form.locator('input[name="item"]').fill(item);
    await form.locator('input[name="qty"]').fill('7');
    await form.locator('button[type="submit"]').click();
    await page
      .locator('[data-testid="paxos-decided"]', { hasText: `add ${item} 7` })
      .first()
      .waitFor({ timeout: STEP_TIMEOUT_MS });
    await page
      .locator('[data-testid="seq-msg"][data-type="chosen"]')
      .first()
      .waitFor({ timeout: STEP_TIMEOUT_MS });
    for (const n of ['p1', 'p2', 'p3'])
      await page
        .locator(`[data-testid="replica-state-inventory-${n}"]`, { hasText: `${item} 7` })
        .waitFor({ timeout: STEP_TIMEOUT_MS });
    await page
      .locator('[data-testid="add-result"]', { hasText: 'decided' })
      .waitFor({ timeout: STEP_TIMEOUT_MS });
    const s = await state();
    const events = s.nodes.flatMap((n) => n.paxos);
    for (const t of ['prepare', 'promise', 'accept', 'accepted', 'chosen'])
      expect(events.map((e) => e.type)).toContain(t);
    if (process.env.DASHBOARD_SCREENSHOT === '1') {
      mkdirSync('docs', { recursive: true });
      await page.evaluate('window.scrollTo(0, 0)');
      await page.screenshot({ path: 'docs/dashboard.png', fullPage: true });
    }
  });

  it('a kill button kills a replica process; restart brings the replica back', async () => {
    const row = testId('replica-inventory-p2', 'up');
    const pid = await row.getAttribute('data-pid');
    expect(pid).toMatch(/^#PID<p2\.\d+>$/);
    await testId(`kill-${pid}`).click();
    await shows('replica-inventory-p2', 'absent');
    await testId(`proc-${pid}`).waitFor({ state: 'detached', timeout: STEP_TIMEOUT_MS });
    const s = await state();
    const p2 = snapOf(s, 'p2')!;
    expect(p2.processes.map((p) => p.pid)).not.toContain(pid);
    expect(p2.probes.filter((p) => p.kind === 'replica').map((p) => p.data.service)).toEqual([
      'seats',
    ]);
    await testId('restart-inventory-p2').click();
    await shows('replica-inventory-p2', 'up');
    const again = await testId('replica-inventory-p2', 'up').getAttribute('data-pid');
    expect(again).toMatch(/^#PID<p2\.\d+>$/);
    expect(again).not.toBe(pid);
    // it caught up: it shows the stock the others have
    const stock = (st: State, n: string) =>
      JSON.stringify(
        snapOf(st, n)?.probes.find((p) => p.kind === 'replica' && p.data.service === 'inventory')
          ?.data.state,
      );
    await until('p2 caught up', async () => {
      const st = await state();
      return stock(st, 'p2') !== undefined && stock(st, 'p2') === stock(st, 'p1');
    });
    expect(await testId('replica-state-inventory-p2').innerText()).toContain('pear');
  });

  it('kill-node p3 shows p3 and its links down; start-node brings it back', async () => {
    await testId('kill-node-p3').click();
    await shows('node-p3', 'down');
    await shows('link-p1-p3', 'down');
    await shows('link-p2-p3', 'down');
    await shows('link-p1-p2', 'up');
    await shows('replica-inventory-p3', 'absent');
    const s = await state();
    expect(s.cluster.nodes.p3).toBeNull();
    expect(snapOf(s, 'p3')).toBeUndefined();
    await testId('start-node-p3').click();
    await shows('node-p3', 'up');
    await shows('link-p1-p3', 'up');
    await shows('link-p2-p3', 'up');
    await shows('replica-inventory-p3', 'up');
    expect((await state()).cluster.nodes.p3).toMatch(/^p3@/);
  }, 60_000);

  it('partition p1-p2 shows that link partitioned; heal shows it up', async () => {
    await testId('partition-p1-p2').click();
    await shows('link-p1-p2', 'partitioned');
    await shows('link-p1-p3', 'up');
    await shows('link-p2-p3', 'up');
    const s = await state();
    const p2 = s.cluster.nodes.p2!;
    expect(snapOf(s, 'p1')!.faults[p2]?.partitioned).toBe(true);
    // Heartbeats do not cross: p1 drops its link to p2. The view still says partitioned.
    await until('p1 drops its link to p2', async () => {
      const p1 = snapOf(await state(), 'p1');
      return p1 !== undefined && !p1.peers.includes(p2);
    });
    await shows('link-p1-p2', 'partitioned');
    await testId('heal-p1-p2').click();
    await shows('link-p1-p2', 'up');
    const healed = await state();
    expect(snapOf(healed, 'p1')!.faults[healed.cluster.nodes.p2!]?.partitioned ?? false).toBe(
      false,
    );
  }, 60_000);
});

describe(`npm run dashboard -- --protocol epaxos: the EPaxos view (${browserSource()})`, () => {
  let epChild: ChildProcess | undefined;
  let epUrl = '';
  let ep: Page;
  const epId = (id: string) => ep.locator(`[data-testid="${id}"]`);

  beforeAll(async () => {
    const started = spawnDashboard(['--protocol', 'epaxos'], '[epaxos] ');
    epChild = started.proc;
    // the browser starts while the cluster does (it may be up already: the page tests')
    browser ??= await launchBrowser();
    ep = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    ep.on('pageerror', (err) => {
      output += `\n[epaxos page error] ${err.message}\n`;
    });
    epUrl = await started.url;
  }, START_TIMEOUT_MS + BROWSER_START_TIMEOUT_MS);

  afterAll(async () => {
    await ep?.close().catch(() => {});
    killGroup(epChild);
    if (epChild?.pid) {
      const pgid = epChild.pid;
      await until(
        'the EPaxos dashboard group is gone',
        () => liveInGroup(pgid).length === 0,
        10_000,
      );
    }
  });

  it('adding inventory: its instance with deps and the fast or slow path, the EPaxos messages, every replica', async () => {
    const s0 = await state(epUrl);
    for (const name of s0.cluster.names) {
      const kinds = snapOf(s0, name)!
        .probes.map((p) => `${p.kind}:${p.data.partitionId}`)
        .sort();
      expect(kinds).toEqual(['epaxos:inventory', 'epaxos:seats']);
    }
    await ep.goto(epUrl);
    await epId('epaxos-card').waitFor({ state: 'visible', timeout: STEP_TIMEOUT_MS });
    // the replicas table shows the EPaxos replicas
    for (const n of ['p1', 'p2', 'p3'])
      await ep
        .locator(`[data-testid="replica-inventory-${n}"][data-state="up"]`)
        .waitFor({ state: 'attached', timeout: STEP_TIMEOUT_MS });

    const item = `plum${Date.now() % 100_000}`;
    const add = async (at: string, qty: number) => {
      const form = epId('add-form');
      await form.locator('select[name="replica"]').selectOption(at);
      await form.locator('input[name="item"]').fill(item);
      await form.locator('input[name="qty"]').fill(String(qty));
      await form.locator('button[type="submit"]').click();
      await ep
        .locator('[data-testid="add-result"]', { hasText: 'decided' })
        .waitFor({ timeout: STEP_TIMEOUT_MS });
      await epId('add-result').evaluate((el) => {
        el.textContent = '';
      });
    };
    const rowOf = (leader: string) =>
      ep.locator(
        `[data-testid="epaxos-row"][data-partition="inventory"][data-inst^="${leader}."]`,
        {
          hasText: item,
        },
      );

    // the first command on the item: led by p3, no dependencies
    await add('p3', 4);
    const first = rowOf('p3');
    await first
      .locator(
        '[data-testid="epaxos-path"][data-path="fast"], [data-testid="epaxos-path"][data-path="slow"]',
      )
      .waitFor({ timeout: STEP_TIMEOUT_MS });
    await first.locator('[data-testid="epaxos-deps"]').waitFor({ timeout: STEP_TIMEOUT_MS });
    const inst = (await first.getAttribute('data-inst'))!;
    expect(inst).toMatch(/^p3\.\d+$/);
    await ep
      .locator(
        `[data-testid="seq-msg"][data-proto="epaxos"][data-type="preaccept"][data-inst="${inst}"]`,
      )
      .first()
      .waitFor({ timeout: STEP_TIMEOUT_MS });
    for (const n of ['p1', 'p2', 'p3'])
      await ep
        .locator(`[data-testid="replica-state-inventory-${n}"]`, { hasText: `${item} 4` })
        .waitFor({ timeout: STEP_TIMEOUT_MS });

    // a second one on the same item, led by p1: it depends on the first
    await add('p1', 2);
    const second = rowOf('p1');
    await second
      .locator(`[data-testid="epaxos-deps"][data-deps~="${inst}"]`)
      .waitFor({ timeout: STEP_TIMEOUT_MS });
    await second
      .locator(
        '[data-testid="epaxos-path"][data-path="fast"], [data-testid="epaxos-path"][data-path="slow"]',
      )
      .waitFor({ timeout: STEP_TIMEOUT_MS });
    for (const n of ['p1', 'p2', 'p3'])
      await ep
        .locator(`[data-testid="replica-state-inventory-${n}"]`, { hasText: `${item} 6` })
        .waitFor({ timeout: STEP_TIMEOUT_MS });
    await ep
      .locator('[data-testid="epaxos-counts-inventory-p1"]', { hasText: /(fast|slow) 1/ })
      .waitFor({ timeout: STEP_TIMEOUT_MS });

    const s = await state(epUrl);
    const types = new Set(s.nodes.flatMap((n) => n.epaxos ?? []).map((e) => e.type));
    for (const t of ['preaccept', 'preaccept_ok', 'commit']) expect([...types]).toContain(t);
    expect(s.nodes.flatMap((n) => n.paxos)).toEqual([]);
    if (process.env.DASHBOARD_SCREENSHOT === '1') {
      mkdirSync('docs', { recursive: true });
      await ep.evaluate('window.scrollTo(0, 0)');
      await ep.screenshot({ path: 'docs/dashboard-epaxos.png', fullPage: true });
    }
  }, 60_000);
});

describe('npm run dashboard: shutdown', () => {
  it('stops with every node process when its parent goes (stdin closes)', async () => {
    await browser?.close();
    browser = undefined;
    const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
    child!.stdin!.end();
    expect(await exited).toBe(0);
    const leftover = await until(
      'no process of the dashboard group left',
      () => liveInGroup(child!.pid!).length === 0 || null,
      10_000,
    );
    expect(leftover).toBe(true);
  }, 30_000);
});
