import { InMemoryVault } from '../../src/vault/in-memory-vault';
import { describeVaultCompliance } from './vault-compliance';

describeVaultCompliance('InMemoryVault', async () => ({
  vault: await InMemoryVault.create(),
  teardown: async () => undefined,
}));

describe('InMemoryVault', () => {
  it('holds separate keys per instance', async () => {
    const a = await InMemoryVault.create();
    const b = await InMemoryVault.create();
    const id = await a.generateKey('x25519');
    expect(await b.listKeys()).toEqual([]);
    await expect(b.publicKey(id)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
  });

  it('clear() forgets every key', async () => {
    const vault = await InMemoryVault.create();
    const id = await vault.generateKey('ed25519');
    await vault.clear();
    expect(await vault.listKeys()).toEqual([]);
    await expect(vault.sign(id, new Uint8Array(1))).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
  });
});
