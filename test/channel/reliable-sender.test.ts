import { RELIABLE_HEADER_LENGTH, readU64 } from '../../src/channel/frames';
import { ReliableReceiver } from '../../src/channel/reliable';
import { ReliableSender } from '../../src/channel/reliable-sender';

// The reliable sender's recovery (docs/PROTOCOL.md 4.5) on its own, under Jest's fake clock: what goes
// again after a timeout, an acknowledgement or a new route, frame by frame.

const INTERVAL = 100;

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A sender of `size`-byte frames that records the sequence number of every frame it sends again. */
function sender(maxBytes = 1 << 20) {
  const resent: number[] = [];
  const s = new ReliableSender(maxBytes, INTERVAL, (plaintext) => {
    resent.push(readU64(plaintext, 1));
    return undefined;
  });
  /** Seals `n` frames of `size` bytes; returns the sequence numbers that went at once. */
  const seal = (n: number, size = 100): number[] => {
    const now: number[] = [];
    for (let i = 0; i < n; i++) {
      const goes = s.sendsNow;
      const plaintext = s.seal(new Uint8Array(RELIABLE_HEADER_LENGTH + size), 0);
      if (goes) now.push(readU64(plaintext, 1));
    }
    return now;
  };
  return { s, resent, seal };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

describe('ReliableSender', () => {
  it('sends every frame at once while acknowledgements come, and keeps each until acknowledged', () => {
    const { s, resent, seal } = sender();
    expect(seal(10)).toEqual(range(0, 10));
    expect(s.unackedFrames).toBe(10);
    s.acknowledge(4);
    expect(s.unackedFrames).toBe(6);
    expect(s.unackedBytes).toBe(6 * (RELIABLE_HEADER_LENGTH + 100));
    s.acknowledge(3); // an old ack
    s.acknowledge(99); // an ack of what was never sent
    expect(s.unackedFrames).toBe(6);
    s.acknowledge(10);
    jest.advanceTimersByTime(10 * INTERVAL);
    expect(resent).toEqual([]);
    expect(jest.getTimerCount()).toBe(0); // nothing unacknowledged: the timer stopped
  });

  it('after a timeout sends only the oldest frame again; an ack past it means the rest was late, not lost', () => {
    const { s, resent, seal } = sender();
    seal(1000);
    s.acknowledge(200);
    jest.advanceTimersByTime(2 * INTERVAL); // the check runs each interval: a probe 1-2 after the last ack
    expect(resent).toEqual([200]); // a probe, not 800 frames
    // While probing, new frames wait.
    expect(seal(5)).toEqual([]);
    // The probe's wait doubles: one more probe in the next three intervals, not three.
    jest.advanceTimersByTime(3 * INTERVAL);
    expect(resent).toEqual([200, 200]);
    // The peer had more than the probe: the frames sent before were late. Only the held ones go now.
    s.acknowledge(600);
    expect(resent).toEqual([200, 200, 1000, 1001, 1002, 1003, 1004]);
    expect(s.sendsNow).toBe(true);
    expect(s.retransmitted).toBe(2);
    expect(seal(1)).toEqual([1005]);
  });

  it('an ack of the probe alone means a loss: the frames after it go again in a window that doubles', () => {
    const { s, resent, seal } = sender();
    seal(1000, 1000);
    jest.advanceTimersByTime(2 * INTERVAL);
    expect(resent).toEqual([0]);
    s.acknowledge(1);
    expect(resent).toEqual([0, 1]); // one frame in flight, as the probe was
    s.acknowledge(2);
    expect(resent).toEqual([0, 1, 2, 3]);
    s.acknowledge(4);
    expect(resent).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // Until all went, new frames wait behind them; then frames go as they are sealed.
    expect(seal(1, 1000)).toEqual([]);
    // A peer that gets only what goes again: each lost frame goes once, none twice.
    while (s.unackedFrames > 0) s.acknowledge(resent[resent.length - 1]! + 1);
    expect(resent).toEqual(range(0, 1001));
    expect(s.retransmitted).toBe(1000);
    expect(s.sendsNow).toBe(true);
  });

  it('a sweep after a probe stops sending again once acks show the earlier frames arriving', () => {
    const { s, resent, seal } = sender();
    seal(300);
    jest.advanceTimersByTime(2 * INTERVAL);
    s.acknowledge(1); // the probe alone (the peer acknowledged before more arrived)
    expect(seal(2)).toEqual([]);
    s.acknowledge(150); // past what the sweep sent: the rest is arriving
    expect(resent).toEqual([0, 1, 300, 301]);
    expect(s.retransmitted).toBe(2);
  });

  it('a new route sends everything unacknowledged again, from the oldest, in the window', () => {
    const { s, resent, seal } = sender();
    seal(100, 10_000);
    s.acknowledge(40);
    s.retransmit();
    expect(resent).toEqual(range(40, 47)); // 7 frames of 10 KiB start at most 64 KiB past the oldest
    expect(s.retransmissions).toBe(1);
  });

  it('bounds what it holds: full past maxUnackedBytes, and room() resolves once acks make room', async () => {
    const frame = RELIABLE_HEADER_LENGTH + 100;
    const { s, seal } = sender(10 * frame);
    seal(9);
    expect(s.full).toBe(false);
    seal(1);
    expect(s.full).toBe(true);
    let roomy = false;
    const room = s.room().then(() => (roomy = true));
    await Promise.resolve();
    expect(roomy).toBe(false);
    s.acknowledge(1);
    await room;
    expect(s.full).toBe(false);
  });
});

describe('ReliableReceiver', () => {
  function frame(seq: number): Uint8Array {
    const plaintext = new Uint8Array(RELIABLE_HEADER_LENGTH + 1);
    plaintext[8] = seq; // seq < 256: its low byte
    return plaintext;
  }

  it('acknowledges after 32 frames or 5 ms, not when a frame going back carried the ack', () => {
    const acks: number[] = [];
    const r = new ReliableReceiver((plaintext) => acks.push(readU64(plaintext, 1)));
    for (let seq = 0; seq < 32; seq++) expect(r.receive(frame(seq)).verdict).toBe('next');
    expect(acks).toEqual([32]);
    r.receive(frame(32));
    expect(r.piggyback()).toBe(33);
    jest.advanceTimersByTime(10);
    expect(acks).toEqual([32]); // carried by a frame going back: no ACK
    r.receive(frame(33));
    jest.advanceTimersByTime(5);
    expect(acks).toEqual([32, 34]);
  });

  it('drops duplicates and frames ahead of a gap, and owes the sender an ACK for them', () => {
    const acks: number[] = [];
    const r = new ReliableReceiver((plaintext) => acks.push(readU64(plaintext, 1)));
    r.receive(frame(0));
    r.piggyback();
    expect(r.receive(frame(0)).verdict).toBe('duplicate');
    expect(r.receive(frame(5)).verdict).toBe('ahead');
    jest.advanceTimersByTime(5);
    expect(acks).toEqual([1]);
    expect([r.duplicates, r.ahead]).toEqual([1, 1]);
    r.destroy();
  });
});
