import { identifierOf, IDENTIFIER_PATTERN } from '../identity/identity';
import { FORWARDER_NAME, nameClaimStatement } from '../services/forwarding-messages';
import type { Vault } from '../vault/vault';

/**
 * A federation's record of where a forwarder name lives (the value at key `<name>` of the JetStream bucket):
 * the hub that holds it, that hub's lease epoch, and the owner's proof. The proof is the owner's own
 * signed claim from the forwarding protocol (v2): an Ed25519 signature by the owner's identity key over
 * `nameClaimStatement(instance, challenge, name, key)`, made for the hub instance that registered it. Any
 * hub can check it; no hub (nor NATS) can make one for an identity whose key it does not hold. The hub
 * and epoch fields are the registering hub's word, which the lease heartbeats confirm (see federation.ts).
 */
export interface NameRecord {
  readonly v: 1;
  readonly name: string;
  /** The hub's federation name: its NATS subject is `<prefix>.hub.<hub>`. */
  readonly hub: string;
  /** The hub's instance id (32 hex), the one signed in the claim. */
  readonly instance: string;
  /** The hub's lease epoch when it wrote the record. */
  readonly epoch: number;
  /** The owner's identifier (`I` + 40 hex). */
  readonly owner: string;
  /** The owner's Ed25519 public key (32 bytes). */
  readonly key: Uint8Array;
  /** The hub's challenge the owner signed (32 hex). */
  readonly challenge: string;
  /** The owner's signature (64 bytes). */
  readonly sig: Uint8Array;
}

/** Hub names: its NATS subject's last token, so lower-case letters, digits and `-` only. */
export const HUB_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

/** The largest record accepted, in bytes (a real one is about 400). */
export const MAX_RECORD_BYTES = 1024;

const HEX32 = /^[0-9a-f]{32}$/;

/** The record as JSON bytes (keys and signatures in base64). */
export function encodeRecord(record: NameRecord): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      ...record,
      key: Buffer.from(record.key).toString('base64'),
      sig: Buffer.from(record.sig).toString('base64'),
    }),
  );
}

function base64Bytes(value: unknown, length: number): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length > 128) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === length ? new Uint8Array(bytes) : undefined;
}

/** Why a record was not accepted. */
export type RecordProblem = 'malformed' | 'wrong-key' | 'bad-signature';

/**
 * Parses and checks a record read at key `name`: well-formed, bounded, for that name, and signed by the
 * owner it names. Anything else is a problem (a forged or corrupt record), never a route.
 */
export function verifyRecord(
  name: string,
  bytes: Uint8Array,
  vault: Vault,
): { record: NameRecord } | { problem: RecordProblem } {
  if (bytes.length > MAX_RECORD_BYTES) return { problem: 'malformed' };
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes)) as Record<string, unknown>;
  } catch {
    return { problem: 'malformed' };
  }
  if (typeof v !== 'object' || v === null) return { problem: 'malformed' };
  const key = base64Bytes(v.key, 32);
  const sig = base64Bytes(v.sig, 64);
  if (
    v.v !== 1 ||
    v.name !== name ||
    !FORWARDER_NAME.test(name) ||
    typeof v.hub !== 'string' ||
    !HUB_NAME.test(v.hub) ||
    typeof v.instance !== 'string' ||
    !HEX32.test(v.instance) ||
    typeof v.epoch !== 'number' ||
    !Number.isSafeInteger(v.epoch) ||
    v.epoch <= 0 ||
    typeof v.owner !== 'string' ||
    !IDENTIFIER_PATTERN.test(v.owner) ||
    typeof v.challenge !== 'string' ||
    !HEX32.test(v.challenge) ||
    key === undefined ||
    sig === undefined
  ) {
    return { problem: 'malformed' };
  }
  if (identifierOf(vault, key) !== v.owner) return { problem: 'wrong-key' };
  if (!vault.verify(key, nameClaimStatement(v.instance, v.challenge, name, key), sig)) {
    return { problem: 'bad-signature' };
  }
  return {
    record: {
      v: 1,
      name,
      hub: v.hub,
      instance: v.instance,
      epoch: v.epoch,
      owner: v.owner,
      key,
      challenge: v.challenge,
      sig,
    },
  };
}
