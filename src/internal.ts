/**
 * Sealroute's internals for its own benchmarks, fuzzers and tests: everything public, plus the pieces an
 * application has no business with (wire encoding, the dead-letter recorder, tsyringe's global container).
 * Not part of the package's exports map, so nothing here is a promise to users.
 */
export * from './index';
export { encodeTransportMessage, decodeTransportMessage } from './core/wire';
export { DeadLetters } from './node/dead-letters';
export { container } from 'tsyringe';
