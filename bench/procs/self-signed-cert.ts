/**
 * A self-signed X.509 certificate made with node:crypto alone (no openssl binary): an ECDSA P-256 key and a
 * minimal v3 certificate for `localhost` (subjectAltName DNS:localhost, basicConstraints CA so that it can
 * be its own trust anchor), DER-encoded by hand. For the TLS baselines of the hub benchmarks.
 */
import { X509Certificate, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private key and its certificate, both PEM. */
export interface KeyAndCert {
  readonly key: string;
  readonly cert: string;
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let rest = n; rest > 0; rest >>>= 8) bytes.unshift(rest & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

/** One DER tag-length-value. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.of(tag), length(body.length), body]);
}

const sequence = (...content: Buffer[]): Buffer => tlv(0x30, ...content);
const set = (...content: Buffer[]): Buffer => tlv(0x31, ...content);
const explicit = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 + n, ...content);
const octets = (content: Buffer): Buffer => tlv(0x04, content);
const TRUE = tlv(0x01, Buffer.of(0xff));

function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes);
}

function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift(0x80 | (v & 0x7f));
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime `YYMMDDHHMMSSZ` (years 1950-2049). */
function utcTime(date: Date): Buffer {
  const text = date.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

const ECDSA_WITH_SHA256 = sequence(oid('1.2.840.10045.4.3.2'));

/**
 * 16 random bytes whose first is 0x01-0x7f: DER forbids an INTEGER's leading zero byte unless the next byte's
 * top bit is set, and a random first byte of 0x00 failed the parse (ERR_OSSL_ASN1_ILLEGAL_PADDING) about
 * once in 512 certificates.
 */
function serialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f || 0x01;
  return serial;
}

/** A fresh P-256 key and a self-signed certificate for `localhost`, valid from an hour ago for a day. */
export function selfSignedCert(commonName: string): KeyAndCert {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const now = Date.now();
  const extensions = sequence(
    sequence(oid('2.5.29.19'), TRUE, octets(sequence(TRUE))), // basicConstraints, critical: CA
    sequence(oid('2.5.29.17'), octets(sequence(tlv(0x82, Buffer.from('localhost', 'ascii'))))), // SAN
  );
  const tbs = sequence(
    explicit(0, integer(Buffer.of(2))), // v3
    integer(serialNumber()),
    ECDSA_WITH_SHA256,
    name,
    sequence(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, extensions),
  );
  const signature = sign('sha256', tbs, privateKey); // DER-encoded ECDSA signature, as X.509 wants it
  const der = sequence(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.of(0), signature));
  const cert = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')}-----END CERTIFICATE-----\n`;
  const parsed = new X509Certificate(cert);
  if (!parsed.verify(publicKey) || parsed.checkHost('localhost') !== 'localhost') {
    throw new Error('the self-signed certificate does not verify');
  }
  return { key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, cert };
}

/**
 * A new temporary directory holding `server.key`, `server.crt`, `client.key` and `client.crt` (what
 * byte-server.ts, byte-client.ts and tls-tunnel.ts read); the caller removes it.
 */
export function certificateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sealroute-bench-'));
  for (const side of ['server', 'client']) {
    const { key, cert } = selfSignedCert(side);
    writeFileSync(join(dir, `${side}.key`), key, { mode: 0o600 });
    writeFileSync(join(dir, `${side}.crt`), cert);
  }
  return dir;
}
