import { LocalMessage, NodeError, route } from '../../src';
import { Mailbox } from '../../src/node/mailbox';
import { RingQueue } from '../../src/node/ring-queue';
import { isPending } from '../helpers/async';

function message(body: number): LocalMessage<number> {
  return new LocalMessage(route('owner'), route('sender'), body);
}

describe('Mailbox', () => {
  it('takes messages synchronously while it has room, in order', () => {
    const mailbox = new Mailbox('0#owner', 3, 1_000);
    expect(mailbox.offer(message(1))).toBeUndefined();
    expect(mailbox.offer(message(2))).toBeUndefined();
    expect(mailbox.offer(message(3))).toBeUndefined();
    expect(mailbox.length).toBe(3);
    expect([mailbox.take(), mailbox.take(), mailbox.take()].map((m) => m?.body)).toEqual([1, 2, 3]);
    expect(mailbox.take()).toBeUndefined();
  });

  it('makes senders wait when full and admits them in order as messages are taken', async () => {
    const mailbox = new Mailbox('0#owner', 2, 10_000);
    mailbox.offer(message(1));
    mailbox.offer(message(2));
    const third = mailbox.offer(message(3));
    const fourth = mailbox.offer(message(4));
    expect(third).toBeInstanceOf(Promise);
    expect(fourth).toBeInstanceOf(Promise);
    expect(mailbox.waiting).toBe(2);
    expect(mailbox.length).toBe(2);

    expect(mailbox.take()?.body).toBe(1);
    await expect(third).resolves.toBeUndefined();
    expect(await isPending(fourth!)).toBe(true);
    expect(mailbox.length).toBe(2); // never over capacity

    expect(mailbox.take()?.body).toBe(2);
    await expect(fourth).resolves.toBeUndefined();
    expect([mailbox.take(), mailbox.take()].map((m) => m?.body)).toEqual([3, 4]);
  });

  it('queues a new sender behind waiting senders even when a slot is free', async () => {
    const mailbox = new Mailbox('0#owner', 1, 10_000);
    mailbox.offer(message(1));
    const second = mailbox.offer(message(2));
    expect(mailbox.take()?.body).toBe(1); // admits 2
    await second;
    expect(mailbox.offer(message(3))).toBeInstanceOf(Promise); // full again
    expect(mailbox.take()?.body).toBe(2);
    expect(mailbox.take()?.body).toBe(3);
  });

  it('rejects a sender with MAILBOX_FULL after the send timeout and never delivers its message', async () => {
    const mailbox = new Mailbox('0#owner', 1, 10);
    mailbox.offer(message(1));
    const late = mailbox.offer(message(2));
    await expect(late).rejects.toMatchObject({ name: 'NodeError', code: 'MAILBOX_FULL' });
    expect(mailbox.take()?.body).toBe(1);
    expect(mailbox.take()).toBeUndefined();
    // The timed-out waiter no longer blocks new senders.
    expect(mailbox.offer(message(3))).toBeUndefined();
    expect(mailbox.take()?.body).toBe(3);
  });

  it('forgets timed-out senders at once, so retries against a stuck worker do not pile up', async () => {
    const mailbox = new Mailbox('0#owner', 1, 5);
    mailbox.offer(message(0));
    for (let attempt = 1; attempt <= 3; attempt++) {
      const sends = Array.from({ length: 100 }, (_, i) => mailbox.offer(message(attempt * 1000 + i)));
      expect(mailbox.waiting).toBe(100);
      await Promise.allSettled(sends);
      expect(mailbox.waiting).toBe(0);
    }
    expect(mailbox.take()?.body).toBe(0);
    expect(mailbox.take()).toBeUndefined();
  });

  it('hands queued and waiting messages to onDropped on close and rejects the waiting senders', async () => {
    const mailbox = new Mailbox('0#owner', 2, 10_000);
    mailbox.offer(message(1));
    mailbox.offer(message(2));
    const waiting = mailbox.offer(message(3));
    const dropped: unknown[] = [];
    const error = new NodeError('WORKER_STOPPED', 'stopped');
    mailbox.close(error, (m) => dropped.push(m.body));
    expect(dropped).toEqual([1, 2, 3]);
    await expect(waiting).rejects.toBe(error);
    expect(mailbox.length).toBe(0);
    expect(mailbox.waiting).toBe(0);
  });
});

describe('RingQueue', () => {
  it('stays FIFO across growth and wrap-around', () => {
    const queue = new RingQueue<number>(2);
    const out: number[] = [];
    let next = 0;
    // Interleave pushes and shifts so the head wraps around while the ring grows.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < round + 3; i++) queue.push(next++);
      for (let i = 0; i < round + 1; i++) out.push(queue.shift()!);
    }
    queue.drain((item) => out.push(item));
    expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
    expect(queue.isEmpty).toBe(true);
    expect(queue.shift()).toBeUndefined();
    expect(queue.peek()).toBeUndefined();
  });
});
