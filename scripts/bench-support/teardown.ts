// What a benchmark starts is stopped when it ends, on an error or on Ctrl-C: every node of its
// local clusters (and any other child it names) killed, its temp dir removed.
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { LocalCluster } from '../support/local-cluster.ts';

export function stopEverythingOnExit(
  clusters: ReadonlySet<LocalCluster>,
  tmpRoot: string,
  children: ReadonlySet<ChildProcess> = new Set(),
): void {
  process.on('exit', () => {
    for (const c of clusters) for (const n of c.nodes.values()) n.kill('SIGKILL');
    for (const child of children) child.kill('SIGKILL');
    rmSync(tmpRoot, { recursive: true, force: true });
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\n  ${signal}: stopping every node\n`);
      process.exit(130);
    });
  }
}
