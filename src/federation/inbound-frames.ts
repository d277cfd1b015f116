import { LocalMessage } from '../core/message';
import { decodeFrame } from '../core/wire-parts';
import { NAMED_PREFIX } from '../services/forwarding-messages';
import { EnvelopeKind, encodeControl, type Envelope } from './envelope';
import { subjectOf, type FederationShared } from './federation-shared';
import type { HubLinks } from './hub-link';

/** Frames received from one hub's epoch. */
interface Inbound {
  readonly epoch: number;
  highest: number;
  ackDue: boolean;
}

/**
 * Frames from the other hubs, and their loss accounting: each hub numbers its frames to this one (per pair
 * of epochs), every gap is counted lost in NATS (`lost.inTransit`) and the highest number is acknowledged
 * every `ackIntervalMs`, so that the sender can count what was never confirmed. What waits for full local
 * mailboxes is bounded in bytes (`maxInboundBytes`); the rest is counted, never dropped silently.
 */
export class InboundFrames {
  private readonly inbound = new Map<string, Inbound>();
  private inboundBytes = 0;

  constructor(
    private readonly shared: FederationShared,
    private readonly links: HubLinks,
  ) {}

  /** A DATA envelope from another hub: numbered, decoded, and on to a forwarder here (or counted). */
  onData(envelope: Envelope): void {
    const { ctx, counters, warnings, settings } = this.shared;
    if (envelope.peerEpoch !== this.shared.epoch) {
      counters.lost.staleEpoch++;
      warnings.warn({ from: envelope.hub }, 'dropped a frame meant for an earlier life of this hub');
      return;
    }
    let inbound = this.inbound.get(envelope.hub);
    if (inbound === undefined || envelope.epoch > inbound.epoch) {
      inbound = { epoch: envelope.epoch, highest: 0, ackDue: false };
      this.inbound.set(envelope.hub, inbound);
    } else if (envelope.epoch < inbound.epoch) {
      counters.lost.staleEpoch++;
      return;
    }
    if (envelope.seq <= inbound.highest) {
      // NATS does not duplicate or reorder one publisher's messages on one subject: a replay, dropped.
      counters.malformed++;
      return;
    }
    if (envelope.seq > inbound.highest + 1) {
      const gap = envelope.seq - inbound.highest - 1;
      counters.lost.inTransit += gap;
      warnings.warn({ from: envelope.hub, gap }, 'frames from another hub were lost in NATS');
    }
    inbound.highest = envelope.seq;
    inbound.ackDue = true;
    counters.received++;
    const link = this.links.to(envelope.hub);
    let message: LocalMessage;
    try {
      const decoded = decodeFrame(envelope.frame, envelope.frame.length);
      message = new LocalMessage(
        decoded.onwardRoute,
        decoded.returnRoute.prepend(link.address),
        decoded.body,
        link.info,
      );
    } catch (err) {
      counters.malformed++;
      warnings.warn({ err, from: envelope.hub }, 'dropped a frame from another hub that does not decode');
      return;
    }
    const next = message.onwardRoute.next;
    // What another hub sends goes to a forwarder here, or back the way a relayed message came.
    if (next === undefined) {
      counters.refused++;
      return ctx.refuse(message, `a frame from hub ${envelope.hub} with an empty onward route`);
    }
    if (!(next.isLocal && next.value.startsWith(NAMED_PREFIX))) {
      const what = `a frame from hub ${envelope.hub} to ${next.key} (not a forwarder, nor a route it relayed)`;
      if (!ctx.admit(message, next, what)) {
        counters.refused++;
        return;
      }
    }
    const size = envelope.frame.length;
    if (this.inboundBytes + size > settings.maxInboundBytes) {
      counters.lost.inboundFull++;
      this.shared.drop(
        message,
        `${settings.maxInboundBytes} bytes from other hubs wait for local mailboxes`,
        'UNDELIVERABLE',
      );
      return;
    }
    this.inboundBytes += size;
    ctx.forward(message).then(
      () => (this.inboundBytes -= size),
      () => (this.inboundBytes -= size),
    );
  }

  /** Acknowledges, to each hub, the highest frame received from it since the last acknowledgement. */
  sendAcks(): void {
    const { instance, hub: self, epoch, bus, settings } = this.shared;
    if (instance === undefined) return;
    for (const [hub, inbound] of this.inbound) {
      if (!inbound.ackDue) continue;
      inbound.ackDue = false;
      const ack = encodeControl(EnvelopeKind.ACK, self, instance, epoch, inbound.epoch, inbound.highest);
      try {
        bus.publish(subjectOf(settings.prefix, hub), ack);
      } catch {
        inbound.ackDue = true;
      }
    }
  }
}
