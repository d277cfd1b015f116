/**
 * The delivery property under faults: every message sent is either delivered once and intact, or its loss
 * is visible to its sender (an error, or a drop counted somewhere). Reconciles what the sender saw with what
 * the receiving sink recorded.
 */
import type { SeqSet, SinkCounts } from './numbered';
import type { SenderOutcomes } from './traffic';

/** Every message sent, in exactly one class; `unaccounted` and the violations must be 0. */
export interface Reconciliation {
  readonly sent: number;
  /** Delivered, and the sender got the acknowledgement. */
  readonly deliveredAcked: number;
  /** Delivered, but the acknowledgement was lost: the sender saw an error (a retry would duplicate it). */
  readonly deliveredErrorSeen: number;
  /** Not delivered, and the sender saw an error. */
  readonly lostErrorSeen: number;
  /** Not delivered, but counted as dropped (dead letters) without the sender seeing an error. */
  readonly lostCountedDrop: number;
  /** Neither delivered nor seen as lost: a silent loss. */
  readonly unaccounted: number;
  /** Acknowledged but never delivered (impossible unless acknowledgements are forged). */
  readonly ackedNotDelivered: number;
  readonly duplicates: number;
  readonly corrupted: number;
  /** Errors the sender saw, by label (`TimeoutError`, `NodeError:NO_ROUTE`, ...). */
  readonly errors: Record<string, number>;
}

/**
 * Reconciles a sender's outcomes with a sink's record. `countedDrops` is how many of the sender's messages
 * were dead-lettered without an error reaching the sender (0 when every message was a request).
 */
export function reconcile(
  sender: SenderOutcomes,
  delivered: SeqSet,
  sink: SinkCounts,
  countedDrops = 0,
): Reconciliation {
  let deliveredAcked = 0;
  let deliveredErrorSeen = 0;
  let lostErrorSeen = 0;
  let silent = 0;
  let ackedNotDelivered = 0;
  const errors: Record<string, number> = {};
  for (let seq = 0; seq < sender.sent; seq++) {
    const arrived = delivered.has(seq);
    const error = sender.errored.get(seq);
    if (error !== undefined) errors[error] = (errors[error] ?? 0) + 1;
    if (sender.acked.has(seq)) {
      if (arrived) deliveredAcked++;
      else ackedNotDelivered++;
    } else if (error !== undefined) {
      if (arrived) deliveredErrorSeen++;
      else lostErrorSeen++;
    } else if (arrived) {
      deliveredAcked++; // cannot happen with requests: each one ends acked or errored
    } else {
      silent++;
    }
  }
  const lostCountedDrop = Math.min(silent, countedDrops);
  return {
    sent: sender.sent,
    deliveredAcked,
    deliveredErrorSeen,
    lostErrorSeen,
    lostCountedDrop,
    unaccounted: silent - lostCountedDrop,
    ackedNotDelivered,
    duplicates: sink.duplicates,
    corrupted: sink.corrupted,
    errors,
  };
}

/** Whether the property holds: nothing silently lost, duplicated, corrupted, or acknowledged falsely. */
export function reconciled(r: Reconciliation): boolean {
  return (
    r.unaccounted === 0 &&
    r.ackedNotDelivered === 0 &&
    r.duplicates === 0 &&
    r.corrupted === 0 &&
    r.deliveredAcked + r.deliveredErrorSeen + r.lostErrorSeen + r.lostCountedDrop === r.sent
  );
}

/** One line: `sent = delivered+acked + delivered+error + lost+error + lost+counted (+ unaccounted)`. */
export function describeReconciliation(r: Reconciliation): string {
  const errors = Object.entries(r.errors)
    .map(([label, n]) => `${label} x${n}`)
    .join(', ');
  return (
    `sent ${r.sent} = delivered+acked ${r.deliveredAcked} + delivered, ack lost (error seen) ${r.deliveredErrorSeen}` +
    ` + lost (error seen) ${r.lostErrorSeen} + lost (counted drop) ${r.lostCountedDrop}` +
    ` + unaccounted ${r.unaccounted}; duplicates ${r.duplicates}, corrupted ${r.corrupted}, acked-but-not-delivered ${r.ackedNotDelivered}` +
    (errors === '' ? '' : `; errors seen: ${errors}`)
  );
}

/** What a one-way sender knows: the numbers it sent (`first` .. `first + sent - 1`) and the sends that failed. */
export interface OneWaySender {
  readonly first: number;
  readonly sent: number;
  /** Sends that failed with an error the sender saw, by number. */
  readonly errored: ReadonlyMap<number, string>;
}

/** One-way sends, each in exactly one class; `unaccounted`, `overcounted` and the violations must be 0. */
export interface OneWayReconciliation {
  readonly sent: number;
  readonly delivered: number;
  /** Not delivered, and dead-lettered where its number could be read. */
  readonly lostCountedById: number;
  /** Not delivered, and its send failed with an error the sender saw. */
  readonly lostErrorSeen: number;
  /** Not delivered, matched by count with the dead letters no one could read (encrypted frames). */
  readonly lostCountedOpaque: number;
  /** Not delivered and not counted anywhere: a silent loss. */
  readonly unaccounted: number;
  /** Dead letters beyond the losses (a message counted twice, or counted and delivered). */
  readonly overcounted: number;
  readonly duplicates: number;
  readonly corrupted: number;
}

/**
 * Reconciles one-way sends exactly: the numbers the sender sent, less those the sink received, must be
 * exactly the losses the nodes counted, read by number where a dead letter's body is readable and by
 * count where it is encrypted (`opaque`), or sends the sender saw fail. A loss counted nowhere is
 * `unaccounted`; a dead letter of a message that was delivered, or more dead letters than losses, is
 * `overcounted`: both mean the accounting is wrong.
 */
export function reconcileOneWay(
  sender: OneWaySender,
  delivered: SeqSet,
  sink: SinkCounts,
  drops: { readonly ids: SeqSet; readonly opaque: number }[],
): OneWayReconciliation {
  let deliveredCount = 0;
  let byId = 0;
  let errorSeen = 0;
  let silent = 0;
  let overcounted = 0;
  const end = sender.first + sender.sent;
  for (let seq = sender.first; seq < end; seq++) {
    const counted = drops.filter((d) => d.ids.has(seq)).length;
    if (delivered.has(seq)) {
      deliveredCount++;
      overcounted += counted;
    } else if (counted > 0) {
      byId++;
      overcounted += counted - 1;
    } else if (sender.errored.has(seq)) errorSeen++;
    else silent++;
  }
  const opaque = drops.reduce((sum, d) => sum + d.opaque, 0);
  const lostCountedOpaque = Math.min(silent, opaque);
  return {
    sent: sender.sent,
    delivered: deliveredCount,
    lostCountedById: byId,
    lostErrorSeen: errorSeen,
    lostCountedOpaque,
    unaccounted: silent - lostCountedOpaque,
    overcounted: overcounted + (opaque - lostCountedOpaque),
    duplicates: sink.duplicates,
    corrupted: sink.corrupted,
  };
}

/** Whether every one-way send is delivered once and intact or counted exactly once as lost. */
export function oneWayReconciled(r: OneWayReconciliation): boolean {
  return r.unaccounted === 0 && r.overcounted === 0 && r.duplicates === 0 && r.corrupted === 0;
}

/** One line: `sent = delivered + lost (counted by number) + lost (error seen) + lost (counted, encrypted)`. */
export function describeOneWay(r: OneWayReconciliation): string {
  return (
    `sent ${r.sent} = delivered ${r.delivered} + lost (dead letter, by number) ${r.lostCountedById}` +
    ` + lost (error seen) ${r.lostErrorSeen} + lost (dead letter, encrypted, by count) ${r.lostCountedOpaque}` +
    ` + unaccounted ${r.unaccounted}; overcounted ${r.overcounted}, duplicates ${r.duplicates}, corrupted ${r.corrupted}`
  );
}
