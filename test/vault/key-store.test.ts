import { KeyStore, entryFromSecret } from '../../src/vault/key-store';
import { sodiumReady } from '../../src/crypto/sodium';
import { expectThrows, hex, toHex } from './helpers';

beforeAll(async () => {
  await sodiumReady();
});

describe('KeyStore', () => {
  it('derives X25519 keys and secrets as RFC 7748 section 6.1 does', () => {
    const store = new KeyStore();
    const alice = entryFromSecret(
      'alice',
      'x25519',
      hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
      false,
    );
    store.add(alice);
    expect(toHex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    const bobPublic = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(toHex(store.dh('alice', bobPublic))).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    );
  });

  it('derives Ed25519 keys and signatures as RFC 8032 section 7.1 test 1 does', () => {
    const store = new KeyStore();
    const entry = entryFromSecret(
      'k',
      'ed25519',
      hex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'),
      false,
    );
    store.add(entry);
    expect(toHex(entry.publicKey)).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(toHex(store.sign('k', new Uint8Array(0)))).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });

  it('copies the secret it is given', () => {
    const secret = new Uint8Array(32).fill(7);
    const entry = entryFromSecret('k', 'x25519', secret, false);
    secret.fill(0);
    expect(entry.secret).toEqual(new Uint8Array(32).fill(7));
  });

  it('wipes the secret bytes of a deleted key', () => {
    const store = new KeyStore();
    const x = store.create('x25519', false);
    const e = store.create('ed25519', true);
    store.add(x);
    store.add(e);
    expect(x.secret.some((b) => b !== 0)).toBe(true);
    expect(e.signingKey?.some((b) => b !== 0)).toBe(true);
    store.delete(x.id);
    store.delete(e.id);
    expect(x.secret.every((b) => b === 0)).toBe(true);
    expect(e.secret.every((b) => b === 0)).toBe(true);
    expect(e.signingKey?.every((b) => b === 0)).toBe(true);
    expect(store.all()).toEqual([]);
  });

  it('wipes every key on clear()', () => {
    const store = new KeyStore();
    const entries = [store.create('x25519', false), store.create('ed25519', false)];
    entries.forEach((entry) => store.add(entry));
    store.clear();
    expect(entries.every((entry) => entry.secret.every((b) => b === 0))).toBe(true);
    expect(store.all()).toEqual([]);
  });

  it('makes 128-bit random hex ids', () => {
    const store = new KeyStore();
    const ids = Array.from({ length: 50 }, () => store.create('x25519', true).id);
    expect(ids.every((id) => /^[0-9a-f]{32}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(50);
  });

  it('refuses a second key under a taken id, and secrets of the wrong length', () => {
    const store = new KeyStore();
    store.add(entryFromSecret('k', 'x25519', new Uint8Array(32).fill(1), false));
    expectThrows(
      () => store.add(entryFromSecret('k', 'x25519', new Uint8Array(32).fill(2), false)),
      'INVALID_ARGUMENT',
    );
    expectThrows(() => entryFromSecret('j', 'ed25519', new Uint8Array(31), false), 'INVALID_ARGUMENT');
  });
});
