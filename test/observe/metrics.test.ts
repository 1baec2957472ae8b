// Prometheus metrics at /metrics on real node processes, after a few operations and a crash.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pid } from '../../actors/index.ts';
import { InventoryServer } from '../../apps/inventory/index.ts';
import { LocalCluster } from '../../scripts/support/local-cluster.ts';
import { scaledMs } from '../../transport/timeouts.ts';
import { waitUntil } from '../helpers.ts';
import { COOKIE, DOWN_AFTER_MS, HEARTBEAT_MS, startHere } from '../transport/cluster-helpers.ts';

let cluster: LocalCluster;
const urls = new Map<string, string>();

beforeAll(async () => {
  await startHere();
  cluster = await LocalCluster.start({
    cookie: COOKIE,
    services: ['inventory'],
    heartbeatIntervalMs: HEARTBEAT_MS,
    nodeDownAfterMs: DOWN_AFTER_MS,
    args: ['--metrics-port', '0'],
  });
  for (const [name, node] of cluster.nodes) {
    const url = /metrics on (\S+)/.exec(node.output())?.[1];
    expect(url, node.output()).toBeDefined();
    urls.set(name, url!);
  }
}, scaledMs(60_000));
afterAll(async () => cluster?.stop());

async function scrape(name: string): Promise<string> {
  const res = await fetch(urls.get(name)!);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/**
 * Scrapes `name` until `ready` holds for the text (a metric may be recorded just after the
 * reply that the test waited for, or at another replica), then returns that text.
 */
async function scrapeWhen(
  name: string,
  ready: (text: string) => boolean,
  what: string,
): Promise<string> {
  let text = '';
  await waitUntil(async () => {
    text = await scrape(name);
    return ready(text);
  }, `${what} at ${name}`);
  return text;
}

/** The value of a metric line `name{labels} value` (labels as a substring), or undefined. */
function value(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (labels && !rest.includes(labels)) continue;
    if (!labels && !rest.startsWith(' ') && !rest.startsWith('{')) continue;
    return Number(line.split(' ').at(-1));
  }
  return undefined;
}

describe('metrics at /metrics', () => {
  it('count messages, bytes, processes, Paxos and service operations after a few operations', async () => {
    const pids = cluster.pids('inventory') as Pid[];
    for (let i = 0; i < 5; i++) await InventoryServer.add(pids[0]!, 'apple', 1);
    await InventoryServer.remove(pids[0]!, 'pear', 1); // insufficient_stock
    // Counters are recorded around the replies, not necessarily before them: wait until the six
    // operations show (never more: exact counts are checked below).
    const p1 = await scrapeWhen(
      'p1',
      (t) =>
        (value(t, 'actorcluster_service_operations_total', 'kind="add",outcome="ok"') ?? 0) >= 5 &&
        (value(t, 'actorcluster_service_operations_total', 'outcome="insufficient_stock"') ?? 0) >=
          1 &&
        (value(t, 'actorcluster_paxos_decisions_total', 'inventory:p1/paxos') ?? 0) >= 6 &&
        // Multi-Paxos: one phase 1 (a term) for all six instances
        (value(t, 'actorcluster_paxos_ballots_total', 'inventory:p1/paxos') ?? 0) >= 1 &&
        (value(t, 'actorcluster_paxos_decision_seconds_count', 'inventory:p1/paxos') ?? 0) >= 6,
      'six operations and their decisions',
    );
    expect(value(p1, 'actorcluster_service_operations_total', 'kind="add",outcome="ok"')).toBe(5);
    expect(value(p1, 'actorcluster_service_operations_total', 'outcome="insufficient_stock"')).toBe(
      1,
    );
    expect(
      value(p1, 'actorcluster_paxos_decisions_total', 'inventory:p1/paxos'),
    ).toBeGreaterThanOrEqual(6);
    expect(
      value(p1, 'actorcluster_paxos_ballots_total', 'inventory:p1/paxos'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      value(p1, 'actorcluster_paxos_decision_seconds_count', 'inventory:p1/paxos'),
    ).toBeGreaterThanOrEqual(6);
    // Messages to pids (kind send) and to names on a node (send_named: Paxos roles address
    // each other's roles by their local names).
    const sends = (direction: string) =>
      (value(p1, 'actorcluster_messages_total', `direction="${direction}",kind="send"`) ?? 0) +
      (value(p1, 'actorcluster_messages_total', `direction="${direction}",kind="send_named"`) ?? 0);
    expect(sends('out')).toBeGreaterThan(10);
    expect(sends('in')).toBeGreaterThan(10);
    expect(
      value(p1, 'actorcluster_messages_total', 'direction="out",kind="send_named"'),
    ).toBeGreaterThan(0);
    expect(value(p1, 'actorcluster_bytes_total', 'direction="out"')).toBeGreaterThan(1000);
    expect(value(p1, 'actorcluster_frames_total', 'direction="in"')).toBeGreaterThan(0);
    expect(value(p1, 'actorcluster_processes')).toBeGreaterThan(5);
    expect(value(p1, 'actorcluster_mailbox_length_high_water')).toBeGreaterThanOrEqual(1);
    expect(p1).toMatch(/actorcluster_link_up\{peer="p2@127\.0\.0\.1:\d+",partitioned="0"\} 1/);
    // A replica elsewhere answered nothing itself, but learned every decision (in its own time).
    const p3 = await scrapeWhen(
      'p3',
      (t) => (value(t, 'actorcluster_paxos_decisions_total', 'inventory:p3/paxos') ?? 0) >= 6,
      'six decisions learned',
    );
    expect(value(p3, 'actorcluster_service_operations_total', 'kind="add"')).toBeUndefined();
    expect(
      value(p3, 'actorcluster_paxos_decisions_total', 'inventory:p3/paxos'),
    ).toBeGreaterThanOrEqual(6);
  });

  it('a paused node shows as heartbeats missed', async () => {
    const before = value(await scrape('p1'), 'actorcluster_heartbeats_missed_total') ?? 0;
    const p2 = cluster.nodes.get('p2')!;
    p2.kill('SIGSTOP');
    try {
      // p2 is silent; p1 counts the heartbeats it misses (from one interval on).
      const after = await scrapeWhen(
        'p1',
        (t) => (value(t, 'actorcluster_heartbeats_missed_total') ?? 0) > before,
        'a missed heartbeat counted',
      );
      expect(value(after, 'actorcluster_heartbeats_missed_total')).toBeGreaterThan(before);
    } finally {
      p2.kill('SIGCONT');
    }
  });

  it('a crashed node shows as a link down and a node-down event at the others', async () => {
    await cluster.killNode('p3');
    await scrapeWhen(
      'p1',
      (p1) =>
        (value(p1, 'actorcluster_node_down_total') ?? 0) >= 1 &&
        /actorcluster_link_up\{peer="p3@[^"]+",partitioned="0"\} 0/.test(p1),
      'p3 down and its link down',
    );
    const res = await fetch(urls.get('p1')!.replace('/metrics', '/other'));
    expect(res.status).toBe(404);
  });
});
