import { defineConfig } from 'vitest/config';
import { scaledMs } from './transport/timeouts.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each test file runs in its own child process: one runtime kernel per file, as per node.
    pool: 'forks',
    // Scaled by ACTORCLUSTER_TIMEOUT_SCALE (transport/timeouts.ts) for slow or loaded machines.
    testTimeout: scaledMs(30_000),
    hookTimeout: scaledMs(30_000),
    reporters: ['default'],
  },
});
