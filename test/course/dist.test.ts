import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES } from '../../apps/course/cases.ts';
import { runCase } from '../../apps/course/coordinator.ts';
import { Node } from '../../transport/index.ts';

const COOKIE = 'course-dist-test-cookie';

beforeAll(async () => {
  await Node.start({ name: 'coord', cookie: COOKIE });
});
afterAll(async () => {
  await Node.stop();
});

describe('course harness, distributed mode (every participant in its own node process)', () => {
  // A subset for CI; `npm run course:dist` runs every case ten times.
  for (const id of [1, 4, 7, 9]) {
    const def = CASES.find((c) => c.id === id)!;
    it(`case ${def.id}: ${def.title} [${def.dist} nodes]`, async () => {
      const r = await runCase(def, 'dist', { seed: 4242 + id, run: 1, cookie: COOKIE });
      expect(r.verdict, r.reason).toBe('PASS');
      expect(r.results).toHaveLength(def.dist!);
    }, 120_000);
  }
});
