import { Scheduler, type Runnable } from '../../src/node/scheduler';
import { waitFor } from '../helpers/async';

/** A runnable with `remaining` units of work that re-schedules itself like a worker cell does. */
class Job implements Runnable {
  processed = 0;
  constructor(
    private readonly scheduler: Scheduler,
    private remaining: number,
    private readonly log: string[],
    readonly name: string,
  ) {}

  start(): void {
    this.scheduler.schedule(this);
  }

  runTurn(budget: number): number {
    const n = Math.min(budget, this.remaining);
    this.remaining -= n;
    this.processed += n;
    this.log.push(`${this.name}:${n}`);
    if (this.remaining > 0) this.scheduler.schedule(this);
    return n;
  }

  get done(): boolean {
    return this.remaining === 0;
  }
}

describe('Scheduler', () => {
  it('runs ready workers round robin, one turn budget at a time', async () => {
    const scheduler = new Scheduler({ turnBudget: 10 });
    const log: string[] = [];
    const a = new Job(scheduler, 25, log, 'a');
    const b = new Job(scheduler, 15, log, 'b');
    a.start();
    b.start();
    await waitFor(() => a.done && b.done, 2_000);
    expect(log).toEqual(['a:10', 'b:10', 'a:10', 'b:5', 'a:5']);
  });

  it('starts work in a microtask, before timers and I/O', async () => {
    const scheduler = new Scheduler();
    const log: string[] = [];
    const a = new Job(scheduler, 1, log, 'a');
    a.start();
    expect(a.processed).toBe(0); // not inline
    await Promise.resolve();
    await Promise.resolve();
    expect(a.processed).toBe(1);
  });

  it('yields to the event loop after the yield budget', async () => {
    const scheduler = new Scheduler({ turnBudget: 10, yieldBudget: 100 });
    const job = new Job(scheduler, 10_000, [], 'a');
    let seenAtImmediate = -1;
    let seenAtTimer = -1;
    setImmediate(() => (seenAtImmediate = job.processed));
    setTimeout(() => (seenAtTimer = job.processed), 0);
    job.start();
    await waitFor(() => job.done, 5_000);
    expect(seenAtImmediate).toBeGreaterThanOrEqual(0);
    expect(seenAtImmediate).toBeLessThan(10_000);
    expect(seenAtTimer).toBeGreaterThanOrEqual(0);
    expect(seenAtTimer).toBeLessThan(10_000);
  });
});
