import { localStaticKey, type LocalStatic } from '../../src/channel/static-keys';
import { Identity } from '../../src/identity';
import { InMemoryVault } from '../../src/vault/in-memory-vault';

/** The static keys of two channel ends, each bound to its own identity in its own vault. */
export async function twoLocalStatics(): Promise<[LocalStatic, LocalStatic]> {
  const [a, b] = await Promise.all([InMemoryVault.create(), InMemoryVault.create()]);
  const [first, second] = await Promise.all([Identity.create(a), Identity.create(b)]);
  return [await localStaticKey(first), await localStaticKey(second)];
}
