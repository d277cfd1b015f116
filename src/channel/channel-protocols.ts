import { TrustEveryone, type TrustPolicy } from '../identity';
import { parseProtocolName, type PatternName } from '../noise';
import { SecureChannelError, type RefusalReason } from './errors';

/** The patterns a secure channel runs. */
export const CHANNEL_PATTERNS: readonly PatternName[] = ['XX', 'IK', 'NK'];

/** The pattern of a protocol name the channel runs; throws `UNSUPPORTED_PROTOCOL` otherwise. */
export function channelPattern(protocolName: string): PatternName {
  let pattern: PatternName;
  try {
    pattern = parseProtocolName(protocolName).pattern.name;
  } catch (cause) {
    throw new SecureChannelError('UNSUPPORTED_PROTOCOL', `unsupported protocol ${protocolName}`, { cause });
  }
  if (!CHANNEL_PATTERNS.includes(pattern)) {
    throw new SecureChannelError('UNSUPPORTED_PROTOCOL', `unsupported pattern ${pattern}`);
  }
  return pattern;
}

/**
 * Why a listener that accepts `accepted` (every protocol it speaks if undefined) under `trustPolicy` refuses a
 * HELLO for `protocolName`, if it does: `UNSUPPORTED_PROTOCOL`, or `UNTRUSTED` for an anonymous (NK) one
 * that the policy could not accept.
 */
export function protocolRefusal(
  protocolName: string,
  accepted: ReadonlySet<string> | undefined,
  trustPolicy: TrustPolicy,
): SecureChannelError | undefined {
  if (accepted !== undefined) {
    return accepted.has(protocolName)
      ? undefined
      : new SecureChannelError('UNSUPPORTED_PROTOCOL', `this listener does not accept ${protocolName}`);
  }
  let pattern;
  try {
    pattern = channelPattern(protocolName);
  } catch (error) {
    return error as SecureChannelError;
  }
  if (pattern === 'NK' && trustPolicy !== TrustEveryone) {
    return new SecureChannelError(
      'UNTRUSTED',
      `NK initiators are anonymous; trust policy ${trustPolicy.name} needs an identity`,
    );
  }
  return undefined;
}

/** What a refusal notice tells the peer about `error`: only whether trust or the handshake failed. */
export function refusalFor(error: SecureChannelError): RefusalReason {
  switch (error.code) {
    case 'UNTRUSTED':
      return 'untrusted';
    case 'TIMEOUT':
      return 'timeout';
    case 'UNSUPPORTED_PROTOCOL':
      return 'unsupported-protocol';
    case 'TOO_MANY_HANDSHAKES':
      return 'busy';
    default:
      return 'handshake-failed';
  }
}
