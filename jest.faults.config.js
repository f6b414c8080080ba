// The fault suite (npm run test:faults): real processes killed, databases locked, disks filled, a
// PostgreSQL restarted, a hostile provider, slow clients. One file at a time (--runInBand): several
// scenarios measure latencies that a second scenario on the two cores would distort.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/faults'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 300000,
};
