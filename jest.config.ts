import type { Config } from 'jest';

const config: Config = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testTimeout: 30_000,
  // Tests start real sockets and child processes; two workers fit a 2-core machine.
  maxWorkers: 2,
  setupFiles: ['reflect-metadata'],
};

export default config;
