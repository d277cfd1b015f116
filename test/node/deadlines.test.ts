import { Deadlines, type DeadlineCause } from '../../src/node/deadlines';
import { deferred, nextTurn, within } from '../helpers/async';
import { trackResources } from '../helpers/resources';

describe('Deadlines', () => {
  it('fires timeout no sooner than its duration after the turn it was set in', async () => {
    const deadlines = new Deadlines();
    await nextTurn();
    const start = performance.now();
    const fired = deferred<DeadlineCause>();
    deadlines.add(30, fired.resolve);
    expect(await within(fired.promise, 2_000, 'the deadline')).toBe('timeout');
    expect(performance.now() - start).toBeGreaterThanOrEqual(30);
  });

  it('reads the clock afresh in each turn: a deadline set after a long wait is not due at once', async () => {
    const deadlines = new Deadlines();
    const first = jest.fn();
    deadlines.add(5_000, first).cancel(); // reads the clock in this turn
    await new Promise((resolve) => setTimeout(resolve, 400));
    const late = jest.fn();
    deadlines.add(300, late);
    // Were it timed from the first read, it would be overdue: its timer (0 ms) would fire before this one.
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(late).not.toHaveBeenCalled();
    deadlines.flush();
    expect(late).toHaveBeenCalledWith('flushed');
    expect(first).not.toHaveBeenCalled();
  });

  it('fires each entry once, in order, and never one that was cancelled', async () => {
    const deadlines = new Deadlines();
    const fired: string[] = [];
    deadlines.add(10, (cause) => fired.push(`a:${cause}`));
    const b = deadlines.add(10, (cause) => fired.push(`b:${cause}`));
    deadlines.add(20, (cause) => fired.push(`c:${cause}`));
    b.cancel();
    b.cancel();
    expect(b.isPending).toBe(false);
    const done = deferred();
    deadlines.add(25, () => done.resolve());
    await within(done.promise, 2_000, 'the last deadline');
    deadlines.flush();
    expect(fired).toEqual(['a:timeout', 'c:timeout']);
  });

  it('flushes every pending entry with flushed, once', () => {
    const deadlines = new Deadlines();
    const fire = jest.fn();
    deadlines.add(60_000, fire);
    deadlines.add(30_000, fire);
    deadlines.flush();
    deadlines.flush();
    expect(fire.mock.calls).toEqual([['flushed'], ['flushed']]);
  });

  it('does not keep the process alive once nothing is pending', async () => {
    const tracker = trackResources();
    const deadlines = new Deadlines();
    for (let i = 0; i < 3; i++) deadlines.add(60_000, () => undefined).cancel();
    expect(await tracker.leaks()).toEqual([]);
  });

  it('keeps the process alive while an entry is pending', async () => {
    const tracker = trackResources();
    const deadlines = new Deadlines();
    const pending = deadlines.add(60_000, () => undefined);
    await nextTurn();
    expect((await tracker.leaks()).some((leak) => leak.startsWith('Timeout'))).toBe(true);
    pending.cancel();
    deadlines.flush();
  });
});
