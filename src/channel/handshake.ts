import {
  CredentialError,
  IdentityError,
  TrustEveryone,
  type PeerCredentials,
  type PeerIdentity,
  type TrustPolicy,
} from '../identity';
import { HandshakeState, type PatternName, type TransportCiphers } from '../noise';
import {
  ChannelCredentials,
  decodeCredentialList,
  encodeCredentialList,
  presentedCredentials,
  verifyPresented,
  type CredentialSettings,
} from './channel-credentials';
import { channelPattern } from './channel-protocols';
import { SecureChannelError } from './errors';
import { encodeHandshake, encodeHello } from './frames';
import {
  decodeIdentityPayload,
  encodeIdentityPayload,
  IdentityExtension,
  type ChannelParameters,
  type IdentityPayload,
} from './identity-payload';
import { verifiedBindings, type LocalStatic } from './static-keys';

/** Mixed into every handshake hash: both ends must run this very protocol, version 1. */
export const PROLOGUE = new TextEncoder().encode('sealroute/secure-channel/v1');

/**
 * Which handshake message carries each side's identity payload: the first message it writes whose payload
 * is encrypted. The NK initiator's payload there holds no identity (it has no static key to bind).
 */
const IDENTITY_MESSAGE: Readonly<Record<PatternName, { initiator: number; responder: number }>> = {
  XX: { initiator: 2, responder: 1 }, // -> e   <- e, ee, s, es [R]   -> s, se [I]
  IK: { initiator: 0, responder: 1 }, // -> e, es, s, ss [I]   <- e, ee, se [R]
  NK: { initiator: 0, responder: 1 }, // -> e, es [anonymous]   <- e, ee [R]
};

export type { ChannelParameters } from './identity-payload';

/** What one side of a handshake needs. */
export interface HandshakeSettings {
  readonly local: LocalStatic;
  readonly trustPolicy: TrustPolicy;
  readonly parameters: ChannelParameters;
  /** For an XX initiator: the only responder static key it accepts (IK and NK pin it by construction). */
  readonly pinnedRemoteStaticKey?: Uint8Array;
  /** What this side presents, and whom it trusts to vouch for the peer (channel-credentials.ts). */
  readonly credentials?: CredentialSettings;
}

/** A completed handshake. */
export interface HandshakeOutcome {
  readonly ciphers: TransportCiphers;
  /** The peer's authenticated identity; undefined for an anonymous NK initiator. */
  readonly remote: PeerIdentity | undefined;
  /** The peer's Noise static key; undefined for an anonymous NK initiator. */
  readonly remoteStaticKey: Uint8Array | undefined;
  readonly handshakeHash: Uint8Array;
  readonly protocolName: string;
  /** What the peer announced. */
  readonly peer: ChannelParameters;
  /** The channel's credentials (what this side presents, what the peer presented), when either side has any. */
  readonly credentials?: ChannelCredentials;
  /**
   * Whether this side read the last handshake message: it then confirms with an encrypted ACCEPTED frame
   * and is open at once; the other side is open once that (or any authenticated) frame arrives.
   */
  readonly confirms: boolean;
}

/** The result of one received handshake message. */
export interface HandshakeStep {
  /** A HANDSHAKE frame to send to the peer. */
  readonly reply?: Uint8Array;
  /** Present once the handshake is complete. */
  readonly outcome?: HandshakeOutcome;
}

const NO_EXTENSIONS: ReadonlyMap<number, Uint8Array> = new Map();
const EMPTY = new Uint8Array(0);

/**
 * One side of a secure channel handshake over the Noise `HandshakeState`: it writes and reads the
 * pattern's messages, puts this side's identity proof into its identity message (identity key, and the
 * identity's signature over the Noise static key), checks the peer's proof against the static key the
 * handshake actually authenticated, and asks the trust policy. Pure: the worker that drives it sends the
 * frames. Every failure is a `SecureChannelError`: `UNTRUSTED` or `HANDSHAKE_FAILED` (see `refusalFor`).
 */
export class Handshake {
  private index = 0; // the next message of the pattern
  private remote: PeerIdentity | undefined;
  private peer: ChannelParameters | undefined;
  private peerPresented = false;

  private constructor(
    readonly initiator: boolean,
    readonly protocolName: string,
    private readonly pattern: PatternName,
    private readonly state: HandshakeState,
    private readonly settings: HandshakeSettings,
  ) {}

  /**
   * A handshake running `protocolName`. IK and NK initiators need `remoteStaticKey` (the listener's static
   * public key). Throws `UNSUPPORTED_PROTOCOL` or `INVALID_OPTIONS`.
   */
  static async create(
    initiator: boolean,
    protocolName: string,
    settings: HandshakeSettings,
    remoteStaticKey?: Uint8Array,
  ): Promise<Handshake> {
    const pattern = channelPattern(protocolName);
    const anonymous = initiator && pattern === 'NK';
    if (initiator && pattern !== 'XX' && remoteStaticKey === undefined) {
      throw new SecureChannelError(
        'INVALID_OPTIONS',
        `${pattern} needs the listener's static public key (remoteStaticKey)`,
      );
    }
    let state: HandshakeState;
    try {
      state = await HandshakeState.create({
        protocolName,
        initiator,
        prologue: PROLOGUE,
        s: anonymous ? undefined : settings.local.key,
        rs: initiator && pattern !== 'XX' ? remoteStaticKey : undefined,
      });
    } catch (cause) {
      throw new SecureChannelError('INVALID_OPTIONS', `cannot start a ${protocolName} handshake`, { cause });
    }
    return new Handshake(initiator, protocolName, pattern, state, settings);
  }

  /** The initiator's first move: the HELLO frame to send to the listener. */
  async start(): Promise<Uint8Array> {
    return encodeHello(this.protocolName, await this.write());
  }

  /** Reads the peer's next handshake message (the noise message, without the frame type). */
  async read(message: Uint8Array): Promise<HandshakeStep> {
    const index = this.index;
    let payload: Uint8Array;
    try {
      payload = await this.state.readMessage(message);
    } catch (cause) {
      throw handshakeFailed(cause);
    }
    this.index++;
    if (index === this.identityMessage(!this.initiator)) {
      await this.authenticate(payload);
    } else if (payload.length !== 0) {
      throw handshakeFailed(undefined, 'unexpected handshake payload');
    }
    if (this.state.isComplete) return { outcome: this.finish(true) };
    const reply = encodeHandshake(await this.write());
    return this.state.isComplete ? { reply, outcome: this.finish(false) } : { reply };
  }

  /** Handshake messages written or read successfully: unchanged by a message that did not verify. */
  get progress(): number {
    return this.index;
  }

  /** Wipes the handshake's secrets (an abandoned handshake). */
  destroy(): void {
    this.state.destroy();
  }

  private async write(): Promise<Uint8Array> {
    const payload = this.index === this.identityMessage(this.initiator) ? this.identityPayload() : EMPTY;
    try {
      const message = await this.state.writeMessage(payload);
      this.index++;
      return message;
    } catch (cause) {
      throw handshakeFailed(cause);
    }
  }

  private identityMessage(ofInitiator: boolean): number {
    const entry = IDENTITY_MESSAGE[this.pattern];
    return ofInitiator ? entry.initiator : entry.responder;
  }

  /** This side's identity payload (`identity-payload.ts`): its proof, unless an anonymous NK initiator. */
  private identityPayload(): Uint8Array {
    const anonymous = this.initiator && this.pattern === 'NK';
    const { local, parameters } = this.settings;
    const presented =
      anonymous || this.settings.credentials === undefined
        ? []
        : presentedCredentials(this.settings.credentials);
    return encodeIdentityPayload({
      proof: anonymous ? undefined : { identityKey: local.identity.publicKey, binding: local.binding },
      parameters,
      extensions:
        presented.length === 0
          ? NO_EXTENSIONS
          : new Map([[IdentityExtension.CREDENTIALS, encodeCredentialList(presented)]]),
    });
  }

  /** Parses the peer's identity payload, verifies its proof, and asks the trust policy. */
  private async authenticate(bytes: Uint8Array): Promise<void> {
    const payload: IdentityPayload = decodeIdentityPayload(bytes);
    this.peer = payload.parameters;
    const proof = payload.proof;
    const { trustPolicy, pinnedRemoteStaticKey } = this.settings;
    // The static key the handshake authenticated, not one the peer claims: a binding is only worth
    // anything for the key that the DH operations proved the peer holds.
    const remoteStaticKey = this.state.remoteStaticPublicKey;
    if (proof === undefined) {
      // Only an NK initiator may be anonymous; a responder always proves an identity.
      if (this.initiator || this.pattern !== 'NK') throw untrusted('the peer did not prove an identity');
      if (trustPolicy !== TrustEveryone) {
        throw untrusted(
          `NK initiators are anonymous; trust policy ${trustPolicy.name} needs an identity (use TrustEveryone, or XX/IK)`,
        );
      }
      return;
    }
    if (remoteStaticKey === undefined) throw handshakeFailed(undefined, 'no remote static key');
    if (pinnedRemoteStaticKey !== undefined && !sameBytes(pinnedRemoteStaticKey, remoteStaticKey)) {
      throw untrusted('the responder does not hold the pinned static key');
    }
    const publicKey = proof.identityKey;
    let identifier: string;
    try {
      identifier = verifiedBindings.verify(
        this.settings.local.identity.vault,
        publicKey,
        remoteStaticKey,
        proof.binding,
      );
    } catch (cause) {
      if (cause instanceof IdentityError) {
        throw untrusted('the peer identity proof does not match its static key', cause);
      }
      throw cause;
    }
    const remote: PeerIdentity = {
      identifier,
      publicKey,
      ...this.verifyCredentials(payload.extensions.get(IdentityExtension.CREDENTIALS), identifier),
    };
    let trusted: boolean;
    try {
      trusted = await trustPolicy.check(remote);
    } catch (cause) {
      throw untrusted(`trust policy ${trustPolicy.name} failed on ${identifier}`, cause);
    }
    if (!trusted) throw untrusted(`trust policy ${trustPolicy.name} refused ${identifier}`);
    this.remote = remote;
  }

  /**
   * The peer's credentials, verified for `identifier` before the trust policy is asked (credentials of an
   * issuer nobody here trusts are ignored); a forged, expired or misdirected one refuses the handshake.
   */
  private verifyCredentials(
    extension: Uint8Array | undefined,
    identifier: string,
  ): { credentials?: PeerCredentials } {
    if (extension === undefined) return {};
    const list = decodeCredentialList(extension);
    if (list === undefined) throw handshakeFailed(undefined, 'malformed credentials');
    this.peerPresented = list.length > 0;
    try {
      const credentials = verifyPresented(
        this.settings.local.identity.vault,
        list,
        identifier,
        this.settings.credentials ?? {},
        this.settings.trustPolicy,
      );
      return credentials === undefined ? {} : { credentials };
    } catch (cause) {
      const code = cause instanceof CredentialError ? cause.code : 'MALFORMED';
      throw untrusted(`a credential ${identifier} presented was refused (${code})`, cause);
    }
  }

  private finish(confirms: boolean): HandshakeOutcome {
    const remoteStaticKey = this.state.remoteStaticPublicKey;
    const handshakeHash = this.state.handshakeHash;
    if (this.peer === undefined) {
      throw handshakeFailed(undefined, 'the handshake ended without the peer parameters');
    }
    return {
      ciphers: this.state.split(),
      remote: this.remote,
      remoteStaticKey,
      handshakeHash,
      protocolName: this.protocolName,
      peer: this.peer,
      ...(this.settings.credentials === undefined && !this.peerPresented
        ? {}
        : {
            credentials: new ChannelCredentials(
              this.settings.local.identity.vault,
              this.settings.credentials ?? {},
              this.settings.trustPolicy,
              this.remote,
              this.settings.credentials !== undefined &&
                presentedCredentials(this.settings.credentials).length > 0,
            ),
          }),
      confirms,
    };
  }
}

function handshakeFailed(cause: unknown, detail = 'a handshake message did not verify'): SecureChannelError {
  // The cause (a NoiseError, say DECRYPT_FAILED) stays local; the message is the same for every cause.
  if (cause instanceof SecureChannelError) return cause;
  return new SecureChannelError('HANDSHAKE_FAILED', `handshake failed: ${detail}`, { cause });
}

function untrusted(message: string, cause?: unknown): SecureChannelError {
  return new SecureChannelError('UNTRUSTED', message, { cause });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
