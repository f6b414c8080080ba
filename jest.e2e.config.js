// The browser suite (npm run test:e2e): Debian's chromium driven by playwright-core against the real
// app on a random port. One file at a time (--runInBand): a browser per worker would starve the
// two-core machines we run on. Timeouts are generous for the same reason.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/e2e'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60000,
};
