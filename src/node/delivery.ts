import type { DeadLetter } from './dead-letters';

/**
 * What became of a message handed to its next hop: `queued` (taken at once), `backpressure` (the next
 * hop's mailbox is full: `room` resolves once it is queued, or rejects with `NodeError` `MAILBOX_FULL`), or
 * `refused` (it became a dead letter, which says why).
 */
export type Delivery =
  { readonly status: 'queued' } | { readonly status: 'backpressure'; readonly room: Promise<void> } | Refused;

/** A delivery that became a dead letter. */
export interface Refused {
  readonly status: 'refused';
  readonly letter: DeadLetter;
}

/** What a send settles with once the message is queued at its next hop, or refused there. */
export type Sent = { readonly status: 'queued' } | Refused;

/** The outcome of every delivery taken at once (one object, no allocation per message). */
export const QUEUED: { readonly status: 'queued' } = Object.freeze({ status: 'queued' });

/** A delivery that must wait for room in a full mailbox. */
export function backpressure(room: Promise<void>): Delivery {
  return { status: 'backpressure', room };
}

/** The promise a sender waits on under backpressure, or undefined when the delivery is settled already. */
export function untilQueued(delivery: Delivery): Promise<void> | undefined {
  return delivery.status === 'backpressure' ? delivery.room : undefined;
}

const SENT_QUEUED: Promise<Sent> = Promise.resolve(QUEUED);

/** A delivery as a send's promise: it settles once the message is queued or refused. */
export function settled(delivery: Delivery): Promise<Sent> {
  if (delivery === QUEUED) return SENT_QUEUED;
  if (delivery.status === 'backpressure') return delivery.room.then(() => QUEUED);
  return Promise.resolve(delivery);
}
