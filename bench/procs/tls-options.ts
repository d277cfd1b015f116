import type { SecureContextOptions } from 'node:tls';

/**
 * TLS 1.3 only, with ChaCha20-Poly1305 (the cipher of Sealroute's default protocol, so that the baselines
 * run the same primitive; X25519 key exchange is OpenSSL's default, as in Noise_XX_25519).
 */
export const TLS_OPTIONS: SecureContextOptions = {
  minVersion: 'TLSv1.3',
  maxVersion: 'TLSv1.3',
  ciphers: 'TLS_CHACHA20_POLY1305_SHA256',
};
