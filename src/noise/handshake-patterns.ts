import { NoiseError } from './errors';

/** A handshake token (spec section 7.1): send or receive a public key, or mix in a DH between two keys. */
export type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss';

/** The handshake patterns this implementation speaks. */
export type PatternName = 'XX' | 'IK' | 'NK';

/**
 * A handshake pattern as data (spec section 7): the pre-messages (keys each side knows of the other before
 * the first message) and the message patterns, alternating initiator, responder, initiator...
 */
export interface HandshakePattern {
  readonly name: PatternName;
  /** Keys of the initiator the responder knows in advance. Only `s` occurs in the patterns we speak. */
  readonly initiatorPreMessages: readonly 's'[];
  /** Keys of the responder the initiator knows in advance. */
  readonly responderPreMessages: readonly 's'[];
  readonly messages: readonly (readonly Token[])[];
}

/** XX, IK and NK exactly as written in the spec (section 7.5). */
export const handshakePatterns: Readonly<Record<PatternName, HandshakePattern>> = {
  // XX:
  //   -> e
  //   <- e, ee, s, es
  //   -> s, se
  XX: {
    name: 'XX',
    initiatorPreMessages: [],
    responderPreMessages: [],
    messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']],
  },
  // IK:
  //   <- s
  //   ...
  //   -> e, es, s, ss
  //   <- e, ee, se
  IK: {
    name: 'IK',
    initiatorPreMessages: [],
    responderPreMessages: ['s'],
    messages: [
      ['e', 'es', 's', 'ss'],
      ['e', 'ee', 'se'],
    ],
  },
  // NK:
  //   <- s
  //   ...
  //   -> e, es
  //   <- e, ee
  NK: {
    name: 'NK',
    initiatorPreMessages: [],
    responderPreMessages: ['s'],
    messages: [
      ['e', 'es'],
      ['e', 'ee'],
    ],
  },
};

/** The pattern of that name; throws `UNSUPPORTED_PROTOCOL` for any other. */
export function handshakePattern(name: string): HandshakePattern {
  const pattern = Object.hasOwn(handshakePatterns, name) ? handshakePatterns[name as PatternName] : undefined;
  if (pattern === undefined) {
    throw new NoiseError('UNSUPPORTED_PROTOCOL', `unsupported Noise handshake pattern: ${name}`);
  }
  return pattern;
}
