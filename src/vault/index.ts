/** The vault layer's public surface: the interface, both implementations and their errors. */
export type {
  AeadAlgorithm,
  GenerateKeyOptions,
  HashAlgorithm,
  KeyId,
  KeyInfo,
  KeyType,
  Vault,
} from './vault';
export { VaultError, VAULT_ERROR_CODES, isVaultError, type VaultErrorCode } from './errors';
export { InMemoryVault } from './in-memory-vault';
export { FileVault, type FileVaultOptions } from './file-vault';
export { DEFAULT_HOME, type VaultHomeOptions } from './vault-home';
export {
  ARGON2ID_INTERACTIVE,
  ARGON2ID_MIN,
  ARGON2ID_MAX,
  type Argon2Params,
  type FileVaultSecret,
} from './file-keys';
export { sodiumReady } from '../crypto/sodium';
