import { Address, LocalMessage, Route, silentLogger } from '../../src';
import { DeadLetters } from '../../src/node/dead-letters';
import { QUEUED, type Delivery } from '../../src/node/delivery';
import { Router, type Recipient } from '../../src/node/router';

/** A recipient that counts what it was handed. */
class Counter implements Recipient {
  taken = 0;
  deliver(): Delivery {
    this.taken++;
    return QUEUED;
  }
}

/** A message to `value`, its address decoded afresh (a new object and key, as off a wire). */
function to(value: string): LocalMessage {
  return new LocalMessage(Route.of([Address.decoded(0, value, value.length)]), Route.EMPTY, 'x');
}

describe('Router', () => {
  it('routes a run of frames to the same target, and never to one unregistered since', () => {
    const deadLetters = new DeadLetters(silentLogger);
    const router = new Router(deadLetters);
    const first = new Counter();
    const address = Address.local('tcp.c.0123456789abcdef');
    router.register(address, first);
    for (let i = 0; i < 3; i++) expect(router.dispatch(to(address.value))).toBe(QUEUED);
    expect(first.taken).toBe(3);

    // Gone: its messages are refused, not handed to the target found a moment ago.
    router.unregister(address, first);
    expect(router.dispatch(to(address.value)).status).toBe('refused');
    expect(deadLetters.last?.reason).toBe('no-route');

    // Back under another target: that one gets them.
    const second = new Counter();
    router.register(address, second);
    expect(router.dispatch(to(address.value))).toBe(QUEUED);
    expect([first.taken, second.taken]).toEqual([3, 1]);
  });

  it('tells apart addresses that share a recent slot (same length, same last character)', () => {
    const router = new Router(new DeadLetters(silentLogger));
    const a = new Counter();
    const b = new Counter();
    router.register(Address.local('alpha-1'), a);
    router.register(Address.local('bravo-1'), b);
    for (let i = 0; i < 4; i++) {
      router.dispatch(to(i % 2 === 0 ? 'alpha-1' : 'bravo-1'));
    }
    expect([a.taken, b.taken]).toEqual([2, 2]);
    expect(router.dispatch(to('carol-1')).status).toBe('refused');
  });
});
