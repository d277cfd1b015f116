import { inspect } from 'node:util';
import type { KeyId, Vault } from '../vault/vault';
import { IdentityError } from './errors';

/** Domain separation of the statement an identity signs to claim a Noise static key (never reused). */
const BINDING_DOMAIN = new TextEncoder().encode('sealroute/identity-binds-noise-static-key/v1\0');

/** Printable identifiers are `I` followed by this many hex-encoded bytes of SHA-256(identity key). */
const IDENTIFIER_BYTES = 20;

/** The statement `identity` signs to bind `staticPublicKey` to itself. */
export function bindingStatement(staticPublicKey: Uint8Array): Uint8Array {
  const statement = new Uint8Array(BINDING_DOMAIN.length + staticPublicKey.length);
  statement.set(BINDING_DOMAIN);
  statement.set(staticPublicKey, BINDING_DOMAIN.length);
  return statement;
}

/** What every identifier looks like: `I` and 40 lowercase hex digits. */
export const IDENTIFIER_PATTERN = /^I[0-9a-f]{40}$/;

/** Whether `text` is a well-formed identifier (says nothing about whom it names). */
export function isIdentifier(text: unknown): text is string {
  return typeof text === 'string' && IDENTIFIER_PATTERN.test(text);
}

/** `text` if it is a well-formed identifier; `IdentityError` `INVALID_IDENTIFIER` otherwise. */
export function parseIdentifier(text: string): string {
  if (typeof text !== 'string' || !IDENTIFIER_PATTERN.test(text)) {
    const shown = typeof text === 'string' && text.length <= 64 ? JSON.stringify(text) : 'the input';
    throw new IdentityError('INVALID_IDENTIFIER', `${shown} is not an identifier (I and 40 hex digits)`);
  }
  return text;
}

/** The printable identifier of an Ed25519 identity public key. */
export function identifierOf(vault: Vault, identityPublicKey: Uint8Array): string {
  return (
    'I' + Buffer.from(vault.hash('sha256', identityPublicKey).subarray(0, IDENTIFIER_BYTES)).toString('hex')
  );
}

/**
 * An identity: an Ed25519 key held in a vault, and the printable identifier derived from its public key.
 * With a `FileVault`, the same identity (and identifier) comes back after a restart via `getOrCreate`.
 */
export class Identity {
  private constructor(
    readonly vault: Vault,
    readonly keyId: KeyId,
    readonly publicKey: Uint8Array,
    /** `I` + 40 hex digits: the first 20 bytes of SHA-256 of the public key. */
    readonly identifier: string,
  ) {}

  /** A new identity with a freshly generated key. */
  static async create(vault: Vault): Promise<Identity> {
    return Identity.load(vault, await vault.generateKey('ed25519'));
  }

  /** The identity of the Ed25519 key `keyId` in `vault`. */
  static async load(vault: Vault, keyId: KeyId): Promise<Identity> {
    const publicKey = await vault.publicKey(keyId);
    return new Identity(vault, keyId, publicKey, identifierOf(vault, publicKey));
  }

  /**
   * The vault's identity: its first persistent Ed25519 key, or a new one. A file vault thus yields the same
   * identity on every start.
   */
  static async getOrCreate(vault: Vault): Promise<Identity> {
    const existing = (await vault.listKeys()).find((key) => key.type === 'ed25519');
    return existing === undefined ? Identity.create(vault) : Identity.load(vault, existing.id);
  }

  /** Signs `data` with the identity key. */
  sign(data: Uint8Array): Promise<Uint8Array> {
    return this.vault.sign(this.keyId, data);
  }

  /** A signature binding a Noise static key to this identity (see `bindingStatement`). */
  bind(staticPublicKey: Uint8Array): Promise<Uint8Array> {
    return this.sign(bindingStatement(staticPublicKey));
  }

  toString(): string {
    return this.identifier;
  }

  /** What `JSON.stringify` and loggers show: the public parts only (never the vault, which holds the key). */
  toJSON(): { identifier: string; publicKey: string } {
    return { identifier: this.identifier, publicKey: Buffer.from(this.publicKey).toString('hex') };
  }

  /** What `console.log` and `util.inspect` show: the identifier only. */
  [inspect.custom](): string {
    return `Identity(${this.identifier})`;
  }
}

/**
 * Verifies that `identityPublicKey` signed the binding of `staticPublicKey`; returns the identifier.
 * Throws `IdentityError` `BAD_PROOF` otherwise.
 */
export function verifyBinding(
  vault: Vault,
  identityPublicKey: Uint8Array,
  staticPublicKey: Uint8Array,
  signature: Uint8Array,
): string {
  if (identityPublicKey.length !== 32 || signature.length !== 64) {
    throw new IdentityError('MALFORMED_PROOF', 'identity proof has the wrong size');
  }
  if (!vault.verify(identityPublicKey, bindingStatement(staticPublicKey), signature)) {
    throw new IdentityError('BAD_PROOF', 'identity proof does not verify');
  }
  return identifierOf(vault, identityPublicKey);
}
