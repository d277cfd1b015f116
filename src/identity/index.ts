/** The identity layer: identities held in a vault, their bindings to Noise keys, trust policies. */
export {
  Identity,
  identifierOf,
  bindingStatement,
  verifyBinding,
  isIdentifier,
  parseIdentifier,
  IDENTIFIER_PATTERN,
} from './identity';
export { IdentityError } from './errors';
export {
  TrustEveryone,
  TrustAnyIdentity,
  TrustIdentifier,
  allowListFrom,
  parseIdentifierList,
  anyOf,
  allOf,
  trustIf,
  type TrustPolicy,
  type PeerIdentity,
} from './trust-policy';
