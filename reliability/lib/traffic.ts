/**
 * Numbered requests kept in flight at a fixed window, each with its own outcome: acknowledged by the sink,
 * or failed with a typed error the sender saw. What a fault does to messages is then a matter of counting
 * (reconcile.ts), not of guessing.
 */
import { SeqSet } from './numbered';

/** How a request ended for its sender, when it did not end with an acknowledgement. */
export function errorLabel(error: unknown): string {
  if (!(error instanceof Error)) return 'non-error';
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name}:${code}` : error.name;
}

/** What the sender knows at the end: every number it sent ended as acknowledged or as an error. */
export interface SenderOutcomes {
  readonly sent: number;
  readonly acked: SeqSet;
  /** Sequence number -> error label, for the requests that failed. */
  readonly errored: Map<number, string>;
}

/** Runs `request(seq)` for seq = 0, 1, 2, ... with at most `window` in flight until stopped. */
export class NumberedTraffic {
  private next = 0;
  private inFlight = 0;
  private running = false;
  private readonly acked = new SeqSet();
  private readonly errored = new Map<number, string>();
  private idle: (() => void) | undefined;
  /** The label of the last error a request failed with. */
  lastError: string | undefined;

  constructor(
    private readonly request: (seq: number) => Promise<unknown>,
    private readonly window: number,
  ) {}

  start(): void {
    this.running = true;
    while (this.inFlight < this.window) this.launch();
  }

  /** Stops issuing and resolves once every request in flight has ended (each is bounded by its timeout). */
  async stop(): Promise<SenderOutcomes> {
    this.running = false;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.idle = resolve));
    return { sent: this.next, acked: this.acked, errored: this.errored };
  }

  status(): { sent: number; acked: number; errored: number; inFlight: number } {
    return { sent: this.next, acked: this.acked.count, errored: this.errored.size, inFlight: this.inFlight };
  }

  private launch(): void {
    const seq = this.next++;
    this.inFlight++;
    let pending: Promise<unknown>;
    try {
      pending = this.request(seq);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      () => this.settle(seq, undefined),
      (error: unknown) => this.settle(seq, errorLabel(error)),
    );
  }

  private settle(seq: number, error: string | undefined): void {
    this.inFlight--;
    if (error === undefined) this.acked.add(seq);
    else {
      this.errored.set(seq, error);
      this.lastError = error;
    }
    if (this.running) {
      // A failed request is replaced after a short pause, so a dead route is probed, not hammered.
      if (error === undefined) this.launch();
      else setTimeout(() => this.running && this.inFlight < this.window && this.launch(), 20);
    } else if (this.inFlight === 0) {
      this.idle?.();
    }
  }
}
