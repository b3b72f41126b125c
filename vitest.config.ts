import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Kills the processes a file's tests spawned and left running (a test that timed out).
    setupFiles: ['test/setup.ts'],
  },
});
