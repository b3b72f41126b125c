import { defineConfig } from 'vitest/config';

/** Browser tests: Playwright driving the system's Chromium (CHROMIUM_PATH, default /usr/bin/chromium). */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Kills the processes a file's tests spawned and left running (a test that timed out).
    setupFiles: ['test/setup.ts'],
    fileParallelism: false,
  },
});
