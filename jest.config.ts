import type { Config } from 'jest';

const config: Config = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  // The default budget is 30 s times the slowdown measured once by the global setup (test/setup/).
  testTimeout: 30_000,
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  setupFilesAfterEnv: ['<rootDir>/test/setup/timeouts.ts'],
  // Tests start real sockets and child processes; two workers fit a 2-core machine.
  maxWorkers: 2,
  setupFiles: ['reflect-metadata'],
};

export default config;
