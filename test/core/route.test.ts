import { Address, AddressError, LOCAL, Route, TCP, route } from '../../src';

describe('route()', () => {
  it('builds a route from strings, addresses, tuples and nested routes', () => {
    const inner = route('a', 'b');
    const built = route('echoer', Address.local('x'), [TCP, '127.0.0.1:4000'], inner, '1#h:1');
    expect(built.toString()).toBe('0#echoer => 0#x => 1#127.0.0.1:4000 => 0#a => 0#b => 1#h:1');
    expect(built.length).toBe(6);
    expect(built.at(2)).toEqual(new Address(TCP, '127.0.0.1:4000'));
  });

  it('gives the empty route for no parts and for empty nested routes', () => {
    expect(route()).toBe(Route.EMPTY);
    expect(route(Route.EMPTY, route()).isEmpty).toBe(true);
  });

  it('refuses invalid pieces with AddressError', () => {
    expect(() => route('0#')).toThrow(AddressError);
    expect(() => route([LOCAL, ''])).toThrow(AddressError);
    expect(() => route(42 as unknown as string)).toThrow(AddressError);
  });

  it('parses its printed form back', () => {
    const built = route('a', [TCP, '10.0.0.1:9'], 'b');
    expect(Route.parse(built.toString()).equals(built)).toBe(true);
    expect(Route.parse(' a =>1#h:1=> b ').toString()).toBe('0#a => 1#h:1 => 0#b');
    expect(Route.parse('   ').isEmpty).toBe(true);
    expect(() => Route.parse('a => => b')).toThrow(AddressError);
  });
});

describe('Route', () => {
  const abc = route('a', 'b', 'c');

  it('steps forward without changing the original', () => {
    const rest = abc.stepForward();
    expect(rest.toString()).toBe('0#b => 0#c');
    expect(abc.toString()).toBe('0#a => 0#b => 0#c');
    expect(rest.stepForward().stepForward()).toBe(Route.EMPTY);
    expect(Route.EMPTY.stepForward()).toBe(Route.EMPTY);
  });

  it('prepends, appends and concatenates into new routes', () => {
    const z = Address.local('z');
    expect(abc.prepend(z).toString()).toBe('0#z => 0#a => 0#b => 0#c');
    expect(abc.append(z).toString()).toBe('0#a => 0#b => 0#c => 0#z');
    expect(abc.concat(route('d')).toString()).toBe('0#a => 0#b => 0#c => 0#d');
    expect(abc.concat(Route.EMPTY)).toBe(abc);
    expect(Route.EMPTY.concat(abc)).toBe(abc);
    expect(abc.toString()).toBe('0#a => 0#b => 0#c');
  });

  it('copies the array it is made of', () => {
    const hops = [Address.local('a'), Address.local('b')];
    const made = Route.of(hops);
    hops.push(Address.local('c'));
    expect(made.length).toBe(2);
  });

  it('exposes next, recipient and nextOrThrow', () => {
    expect(abc.next?.value).toBe('a');
    expect(abc.recipient?.value).toBe('c');
    expect(Route.EMPTY.next).toBeUndefined();
    expect(Route.EMPTY.recipient).toBeUndefined();
    expect(() => Route.EMPTY.nextOrThrow()).toThrow(AddressError);
  });

  it('compares by hops and iterates in order', () => {
    expect(abc.equals(route('0#a', 'b', Address.local('c')))).toBe(true);
    expect(abc.equals(route('a', 'b'))).toBe(false);
    expect(abc.equals(route('a', 'b', '1#c'))).toBe(false);
    expect([...abc].map((address) => address.value)).toEqual(['a', 'b', 'c']);
    expect(JSON.stringify(abc)).toBe('"0#a => 0#b => 0#c"');
  });
});
