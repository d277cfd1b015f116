import { scaled } from '../helpers/slowdown';

// Every test's default budget, scaled by the measured slowdown (a busy machine is not a failing test).
jest.setTimeout(scaled(30_000));
