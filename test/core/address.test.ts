import { Address, AddressError, LOCAL, TCP, addressTypeName, registerAddressType } from '../../src';

function addressError(fn: () => unknown): AddressError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(AddressError);
    return err as AddressError;
  }
  throw new Error('expected an AddressError');
}

describe('Address', () => {
  it.each([
    ['0#echoer', LOCAL, 'echoer'],
    ['1#127.0.0.1:4000', TCP, '127.0.0.1:4000'],
    ['echoer', LOCAL, 'echoer'],
    ['0#a#b', LOCAL, 'a#b'],
    ['65535#x', 65535, 'x'],
  ])('parses %j', (text, type, value) => {
    const address = Address.parse(text);
    expect(address.type).toBe(type);
    expect(address.value).toBe(value);
  });

  it.each([
    [Address.local('echoer'), '0#echoer'],
    [new Address(TCP, '127.0.0.1:4000'), '1#127.0.0.1:4000'],
  ])('prints %s as %j and parses it back', (address, text) => {
    expect(address.toString()).toBe(text);
    expect(address.key).toBe(text);
    expect(JSON.stringify({ address })).toBe(JSON.stringify({ address: text }));
    expect(Address.parse(text).equals(address)).toBe(true);
  });

  it('parses a bare name as the same local address as its printed form', () => {
    expect(Address.parse('echoer').equals(Address.parse('0#echoer'))).toBe(true);
    expect(Address.parse('echoer').isLocal).toBe(true);
    expect(Address.parse('1#h:1').isLocal).toBe(false);
  });

  it.each([
    ['', 'empty'],
    ['0#', 'empty value'],
    ['#echoer', 'empty type'],
    ['x#echoer', 'non-numeric type'],
    ['-1#echoer', 'negative type'],
    ['123456#echoer', 'type with six digits'],
    ['65536#echoer', 'type above 65535'],
  ])('refuses %j (%s) with AddressError INVALID_ADDRESS', (text) => {
    const err = addressError(() => Address.parse(text));
    expect(err.code).toBe('INVALID_ADDRESS');
    expect(err.origin).toBe('core');
    expect(err.name).toBe('AddressError');
  });

  it.each([[-1], [65536], [1.5], [Number.NaN]])('refuses type %p in the constructor', (type) => {
    expect(addressError(() => new Address(type, 'x')).code).toBe('INVALID_ADDRESS');
  });

  it('makes unique local addresses with the given prefix', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const address = Address.unique('reply.');
      expect(address.isLocal).toBe(true);
      expect(address.value.startsWith('reply.')).toBe(true);
      seen.add(address.key);
    }
    expect(seen.size).toBe(1000);
  });

  it('stays told apart by structural equality (its value is behind a getter)', () => {
    expect(Address.local('a')).not.toEqual(Address.local('b'));
    expect(new Address(TCP, 'h:1')).not.toEqual(new Address(LOCAL, 'h:1'));
    expect(Address.local('a')).toEqual(Address.local('a'));
    expect(Address.local('a').equals(Address.local('b'))).toBe(false);
  });

  it('registers further address types once per name', () => {
    registerAddressType(4242, 'TEST_TRANSPORT');
    registerAddressType(4242, 'TEST_TRANSPORT'); // idempotent for the same name
    expect(addressTypeName(4242)).toBe('TEST_TRANSPORT');
    expect(addressTypeName(TCP)).toBe('TCP');
    expect(addressError(() => registerAddressType(4242, 'OTHER')).code).toBe('INVALID_ADDRESS');
    expect(addressError(() => registerAddressType(70000, 'BIG')).code).toBe('INVALID_ADDRESS');
  });
});
