import { EventEmitter } from 'eventemitter3';
import { TCP } from '../../src/core/address';
import { route } from '../../src/core/route';
import { ServicesError } from '../../src/services/errors';
import { ForwardingAddress, MAX_FORWARDING_ADDRESS_LENGTH } from '../../src/services/forwarding-address';

const ID = `I${'0123456789abcdef0123'.repeat(2)}`;
const FWD = 'fwd.9a8b7c6d5e4f30211203f4e5d6c7b8a9';

function invalid(text: string): ServicesError {
  let error: unknown;
  try {
    ForwardingAddress.parse(text);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(ServicesError);
  expect(error).toMatchObject({ name: 'ServicesError', code: 'INVALID_FORWARDING_ADDRESS' });
  return error as ServicesError;
}

describe('ForwardingAddress', () => {
  it('prints <identifier>@<forwarder> and parses it back', () => {
    const address = ForwardingAddress.of(FWD, ID);
    expect(address.format()).toBe(`${ID}@${FWD}`);
    expect(String(address)).toBe(`${ID}@${FWD}`);
    expect(JSON.stringify({ address })).toBe(`{"address":"${ID}@${FWD}"}`);
    const parsed = ForwardingAddress.parse(`  ${ID}@${FWD}\n`); // as pasted
    expect([parsed.identifier, parsed.forwarder]).toEqual([ID, FWD]);
  });

  it('takes a RemoteForwarder and an Identity, or anything with their fields', () => {
    const address = ForwardingAddress.of({ forwardingAddress: 'fwd.bob' }, { identifier: ID });
    expect(address.format()).toBe(`${ID}@fwd.bob`);
  });

  it('reports the address at once and again only when a registration changes it, until stopped', () => {
    const forwarder = Object.assign(new EventEmitter<{ registered: [] }>(), { forwardingAddress: 'fwd.a' });
    const seen: string[] = [];
    const stop = ForwardingAddress.watch(forwarder, ID, (address) => seen.push(address.format()));
    forwarder.emit('registered'); // registered again at the same address: nothing new to tell
    forwarder.forwardingAddress = 'fwd.b';
    forwarder.emit('registered');
    stop();
    forwarder.forwardingAddress = 'fwd.c';
    forwarder.emit('registered');
    expect(seen).toEqual([`${ID}@fwd.a`, `${ID}@fwd.b`]);
    expect(forwarder.listenerCount('registered')).toBe(0);
  });

  it('leads to the forwarder in a route, and trusts exactly its identifier', async () => {
    const address = ForwardingAddress.parse(`${ID}@${FWD}`);
    expect(route([TCP, '127.0.0.1:4000'], address).toString()).toBe(`1#127.0.0.1:4000 => 0#${FWD}`);
    expect(address.trustPolicy.name).toBe(`TrustIdentifier(${ID})`);
    expect(await address.trustPolicy.check({ identifier: ID, publicKey: new Uint8Array(32) })).toBe(true);
    const other = `I${'f'.repeat(40)}`;
    expect(await address.trustPolicy.check({ identifier: other, publicKey: new Uint8Array(32) })).toBe(false);
  });

  it.each([
    ['an empty line', ''],
    ['a bare forwarder (the old format)', FWD],
    ['no forwarder', `${ID}@`],
    ['no identifier', `@${FWD}`],
    ['a short identifier', `I0123@${FWD}`],
    ['an uppercase identifier', `${ID.toUpperCase()}@${FWD}`],
    ['a route instead of a forwarder', `${ID}@1#127.0.0.1:4000`],
    ['a space inside', `${ID}@fwd.a b`],
    ['a second @', `${ID}@${FWD}@x`],
    ['a newline inside', `${ID}@fwd.a\nb`],
    ['a NUL', `${ID}@fwd.a\u0000`],
    ['non-ASCII', `${ID}@fwd.böb`],
    ['a forwarder of 129 characters', `${ID}@${'f'.repeat(129)}`],
    ['a megabyte', 'I'.repeat(1 << 20)],
  ])('refuses %s with INVALID_FORWARDING_ADDRESS', (_what, text) => {
    const error = invalid(text);
    // The message never echoes what was given (it may be anything, of any size).
    expect(error.message.length).toBeLessThan(120);
  });

  it('is bounded: the longest valid address is MAX_FORWARDING_ADDRESS_LENGTH characters', () => {
    const longest = ForwardingAddress.of('f'.repeat(128), ID).format();
    expect(longest).toHaveLength(MAX_FORWARDING_ADDRESS_LENGTH);
    expect(ForwardingAddress.parse(longest).forwarder).toHaveLength(128);
  });

  it('refuses malformed parts in `of` too', () => {
    expect(() => ForwardingAddress.of(FWD, 'Ialice')).toThrow(ServicesError);
    expect(() => ForwardingAddress.of('', ID)).toThrow(ServicesError);
  });
});
