import fc from 'fast-check';
import { DecodeError } from '../../src/core/errors';
import { FrameParser, frameHeader } from '../../src/transport/frame-parser';
import { ALLOCATION_SLACK, measureAllocations } from '../../fuzz/properties/allocation-meter';
import { channelProperties } from '../../fuzz/properties/channel';
import { coreProperties } from '../../fuzz/properties/core';
import { applyMutation, leb128, mutatedArb } from '../../fuzz/properties/mutate';
import { noiseProperties } from '../../fuzz/properties/noise';
import {
  decodeOrRefuse,
  PropertyFailure,
  type FuzzProperty,
  type Refusal,
} from '../../fuzz/properties/support';
import { transportProperties } from '../../fuzz/properties/transport';
import { servicesProperties } from '../../fuzz/properties/services';
import { removeVaultScratch, vaultProperties } from '../../fuzz/properties/vault';

/**
 * Runs each property's sample (`sample` cases, a fresh seed each run) as one test; `npm run fuzz` runs the same
 * properties at full strength. A failure shows fast-check's counterexample and the command that replays it.
 */
function sampleEach(properties: readonly FuzzProperty[]): void {
  it.each(properties.map((p) => [p.name, p] as const))('%s', async (name, property) => {
    const details = await property.check({ numRuns: property.sample });
    if (details.failed) {
      const error = details.errorInstance;
      throw new Error(
        `${fc.defaultReportMessage(details) ?? 'failed'}\n` +
          `Got error: ${error instanceof Error ? error.message : String(error)}\n` +
          `replay: npm run fuzz -- --property '${name}' --seed ${details.seed}` +
          (details.counterexamplePath === null ? '' : ` --path '${details.counterexamplePath}'`),
      );
    }
    expect(details.numRuns).toBe(property.sample);
  });
}

describe('fuzz: core decoders (transport messages, routes, addresses, bodies)', () => {
  sampleEach(coreProperties);
});

describe('fuzz: TCP frame parser', () => {
  sampleEach(transportProperties);

  // Found by fuzzing: a taken header with no body yet must count as in progress, or the connection's
  // partial-frame timer does not run for a peer that sends a header and goes silent.
  it('counts a frame whose header has arrived as in progress', () => {
    const parser = new FrameParser({ maxFrameSize: 100, expectPreamble: false });
    parser.push(frameHeader(10));
    expect(parser.next()).toBeUndefined();
    expect(parser.inProgress).toBe(true);
  });
});

describe('fuzz: forwarding service requests', () => {
  sampleEach(servicesProperties);
});

describe('fuzz: Noise handshake messages', () => {
  sampleEach(noiseProperties);
});

describe('fuzz: secure channel (frames, envelopes, reassembly, replay window, DATA frames, handshake)', () => {
  sampleEach(channelProperties);
});

describe('fuzz: vault files', () => {
  afterAll(removeVaultScratch);
  sampleEach(vaultProperties);
});

const REFUSAL: Refusal = { name: 'DecodeError', codes: ['MALFORMED'] };

describe('fuzz support', () => {
  it('accepts a value or the documented typed error', () => {
    expect(decodeOrRefuse(REFUSAL, () => 1)).toEqual({ ok: true, value: 1 });
    const refused = decodeOrRefuse(REFUSAL, () => {
      throw new DecodeError('MALFORMED', 'bad');
    });
    expect(refused.ok).toBe(false);
  });

  it('fails a case whose decoder throws anything else: an untyped error, another code, a non-error', () => {
    const throwing = (error: unknown) => () =>
      decodeOrRefuse(REFUSAL, () => {
        throw error;
      });
    expect(throwing(new RangeError('Invalid typed array length'))).toThrow(PropertyFailure);
    expect(throwing(new DecodeError('TRUNCATED', 'short'))).toThrow(PropertyFailure);
    expect(throwing('a string')).toThrow(PropertyFailure);
  });

  it('sees allocations made for a declared length, and restores the constructors', () => {
    const original = Uint8Array;
    const huge = 64 * 1024 * 1024;
    for (const allocate of [
      () => new Uint8Array(huge),
      () => Buffer.allocUnsafeSlow(huge),
      () => Buffer.alloc(huge),
      () => new ArrayBuffer(huge),
      () => new Array(huge / 8),
    ]) {
      expect(measureAllocations(allocate).largest).toBeGreaterThanOrEqual(huge);
    }
    const view = measureAllocations(() => new Uint8Array(new ArrayBuffer(16), 0, 8));
    expect(view.largest).toBeLessThan(ALLOCATION_SLACK);
    expect(Uint8Array).toBe(original);
    expect(new Uint8Array(2)).toBeInstanceOf(Uint8Array);
  });

  it('mutates copies and writes integers over fields as asked', () => {
    fc.assert(
      fc.property(mutatedArb(fc.uint8Array({ maxLength: 32 })), ({ original, mutated }) => {
        expect(mutated).not.toBe(original);
      }),
    );
    const bytes = Uint8Array.of(1, 2, 3, 4);
    const u32 = applyMutation(bytes, { kind: 'integer', at: 1, width: 4, value: 0xffffffff });
    expect([...u32]).toEqual([1, 255, 255, 255, 255]);
    const varint = applyMutation(bytes, { kind: 'varint', at: 0, value: 2 ** 28 - 1 });
    expect([...varint]).toEqual([...leb128(2 ** 28 - 1)]);
    expect([...bytes]).toEqual([1, 2, 3, 4]);
  });
});
