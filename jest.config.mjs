// Two projects: unit tests (`*.test.ts`, no services) and integration tests (`*.int.test.ts`),
// whose global setup starts Redis and S3-compatible containers once for the whole run
// (packages/testkit). Run one package's tests with a path: `pnpm test apps/ingest`.
const common = {
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2023' } }] },
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    // Sources import each other as `./x.js` (NodeNext); Jest runs the `.ts` files themselves.
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // Workspace packages are tested from source, so no build is needed before the tests.
    '^@spool/(shared|testkit)$': '<rootDir>/packages/$1/src/index.ts',
    '^@spool/testkit/(ports|landing|wait)$': '<rootDir>/packages/testkit/src/$1.ts',
    '^@spool/testkit/local-stack$': '<rootDir>/packages/testkit/src/local-stack/index.ts',
  },
  testEnvironment: 'node',
};

const projects = [
  {
    ...common,
    displayName: 'unit',
    testMatch: [
      '<rootDir>/{apps,packages,tools}/*/src/**/*.test.ts',
      '<rootDir>/deploy/**/*.test.ts',
      '<rootDir>/scripts/**/*.test.ts',
      '<rootDir>/docker/test/*.test.ts',
    ],
    testPathIgnorePatterns: [
      '\\.int\\.test\\.ts$',
      '\\.smoke\\.test\\.ts$',
      '/node_modules/',
      '/dist/',
      '/.tsbuild/',
    ],
  },
  {
    ...common,
    displayName: 'integration',
    testMatch: ['<rootDir>/{apps,packages,tools}/*/src/**/*.int.test.ts', '<rootDir>/tests/*/*.int.test.ts'],
    testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.tsbuild/'],
    globalSetup: '<rootDir>/packages/testkit/dist/global-setup.js',
    globalTeardown: '<rootDir>/packages/testkit/dist/global-teardown.js',
  },
  {
    // The docker-compose stack with the built images (make test builds them first).
    ...common,
    displayName: 'compose',
    testMatch: ['<rootDir>/docker/test/*.smoke.test.ts'],
    testPathIgnorePatterns: ['/node_modules/', '/dist/', '/.tsbuild/'],
  },
];

// SPOOL_TEST_PROJECT=unit|integration|compose runs one kind (Jest's --selectProjects would swallow the
// path arguments that follow it).
const only = process.env.SPOOL_TEST_PROJECT;

/**
 * Integration test files run in parallel, each Jest worker on a Redis of its own (the processes a
 * test starts share their Redis's queue and registry; packages/testkit/src/env.ts): as many
 * workers as TEST_REDIS_URL names servers when it is set, else SPOOL_TEST_WORKERS, by default 2.
 * Most of a file's time is spent waiting on processes, Redis and S3, so two share two cores well.
 */
function integrationWorkers() {
  const named = (process.env.TEST_REDIS_URL ?? '').split(',').filter((url) => url.trim() !== '').length;
  return named || Number(process.env.SPOOL_TEST_WORKERS || 2);
}

// Tests run on a clock that is not UTC, as a host of Spool's may be (Debian's and CI's are UTC):
// a partition, a day or an hour taken from local time fails them. Workers inherit it.
process.env.TZ = 'Asia/Kolkata';

export default {
  // Per test; integration tests start processes and wait on Redis and S3.
  testTimeout: 60_000,
  ...(only === 'integration' ? { maxWorkers: integrationWorkers() } : {}),
  projects: only ? projects.filter((project) => project.displayName === only) : projects,
};
