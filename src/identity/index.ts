/** The identity layer: identities held in a vault, their bindings to Noise keys, trust policies. */
export { Identity, identifierOf, bindingStatement, verifyBinding } from './identity';
export { IdentityError } from './errors';
export {
  TrustEveryone,
  TrustIdentifier,
  anyOf,
  allOf,
  trustIf,
  type TrustPolicy,
  type PeerIdentity,
} from './trust-policy';
