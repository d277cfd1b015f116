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
export {
  CREDENTIAL_VERSION,
  CREDENTIAL_LIMITS,
  ATTRIBUTE_KEY_PATTERN,
  DEFAULT_CLOCK_SKEW_MS,
  TrustedAuthorities,
  checkAttributes,
  decodeCredential,
  issueCredential,
  isCurrent,
  publicKeyFromHex,
  type Attributes,
  type Authority,
  type Credential,
  type CredentialBody,
  type VerifiedCredential,
  type VerifyOptions,
} from './credential';
export {
  CredentialError,
  CREDENTIAL_ERROR_CODES,
  IDENTITY_ERROR_CODES,
  type IdentityErrorCode,
  PolicyExpressionError,
  type CredentialErrorCode,
} from './errors';
export { PeerCredentials } from './peer-credentials';
export {
  parsePolicy,
  POLICY_LIMITS,
  type PolicyEnvironment,
  type PolicyExpression,
} from './policy-expression';
export { TrustCredential, authorityOf, type TrustCredentialOptions } from './trust-policy';
export { MAX_PRESENTED_CREDENTIALS, fixedCredentials, type CredentialProvider } from './credential-provider';
