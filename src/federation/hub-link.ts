import { Address } from '../core/address';
import { MessageOrigin, ORIGIN_INFO, TRANSPORT_INFO, type LocalInfo, type Routed } from '../core/message';
import { encodeFrame, encodeFrameHead } from '../core/wire';
import type { Context } from '../node/context';
import type { Worker } from '../node/worker';
import { EnvelopeKind, PIECE_MAX_BYTES, headerSize, writeHeader } from './envelope';
import type { FederationTransportInfo } from './federation-options';
import { publishPieces } from './frame-pieces';
import type { FederationShared } from './federation-shared';
import type { Leases } from './leases';

/** The links of a hub to the other hubs of its federation, one worker each, started when first needed. */
export class HubLinks {
  private readonly links = new Map<string, HubLink>();

  constructor(
    private readonly shared: FederationShared,
    private readonly leases: Leases,
  ) {}

  /** The link to `hub`, if it was started. */
  get(hub: string): HubLink | undefined {
    return this.links.get(hub);
  }

  /** The link to `hub`, started now if needed. */
  to(hub: string): HubLink {
    let link = this.links.get(hub);
    if (link === undefined) {
      link = new HubLink(this.shared, this.leases, hub);
      this.links.set(hub, link);
      const { ctx, logger } = this.shared;
      ctx.startWorker(link.address, link, { acceptsTransportMessages: true }).catch((err: unknown) => {
        this.links.delete(hub);
        logger.error({ err, peer: hub }, 'could not start the link to a hub');
      });
    }
    return link;
  }

  /** Confirms what each link published since its last flush (see `HubLink.flushIdle`). */
  flushIdle(): void {
    for (const link of this.links.values()) link.flushIdle();
  }

  /** The addresses of the links' workers. */
  addresses(): Address[] {
    return [...this.links.values()].map((link) => link.address);
  }
}

/**
 * The way to one other hub (`fed.l.<hub>`): one per peer hub, never one per forwarder. A message whose
 * onward route starts here is published, without this hop, on that hub's subject; a message from that
 * hub comes into the node with this address prepended to its return route, so replies go back the same
 * way. Like a connection, it takes a message from outside only where a flow control allows it.
 */
export class HubLink implements Worker<unknown> {
  readonly address: Address;
  readonly info: LocalInfo;
  /** Frames sent to the peer's current epoch, and the highest it acknowledged. */
  private sent = 0;
  private ackedSeq = 0;
  private peerEpoch = 0;
  /** Bytes published and not yet confirmed by a flush. */
  private unflushed = 0;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly shared: FederationShared,
    private readonly leases: Leases,
    readonly hub: string,
  ) {
    this.address = Address.local(`fed.l.${hub}`);
    const transportInfo: FederationTransportInfo = Object.freeze({
      connection: this.address,
      remote: `nats:${hub}`,
      hub,
      vouch: () => undefined,
      isVouched: true,
    });
    const origin = MessageOrigin.of({ kind: 'transport', producer: this.address, info: transportInfo });
    this.info = Object.freeze({ [TRANSPORT_INFO]: transportInfo, [ORIGIN_INFO]: origin });
  }

  async handleMessage(ctx: Context, message: Routed<unknown>): Promise<void> {
    const host = this.shared;
    if (!ctx.admit(message.message, this.address, `the link to hub ${this.hub}`)) return;
    const peer = this.leases.live(this.hub);
    if (peer === undefined) {
      host.counters.lost.unroutable++;
      return host.drop(message, `hub ${this.hub} has no live lease`, 'CONNECTION_LOST');
    }
    if (peer.epoch !== this.peerEpoch) this.restart(peer.epoch);
    const onward = message.onwardRoute.stepForward();
    if (onward.isEmpty) {
      host.counters.lost.unroutable++;
      return host.drop(message, `nothing follows hub ${this.hub} in the onward route`, 'NO_ROUTE');
    }
    const header = headerSize(host.hub.length);
    const max = host.bus.maxPayload - header;
    // A bytes body (a channel's encrypted frame) is not copied here: the bus writes it after the head.
    const { body } = message;
    const tail = body instanceof Uint8Array ? body : undefined;
    let frame: Buffer;
    try {
      frame =
        tail === undefined
          ? encodeFrame(onward, message.returnRoute, body, max, header)
          : encodeFrameHead(onward, message.returnRoute, tail.length, max, header);
    } catch (err) {
      host.counters.lost.tooLarge++;
      return host.drop(message, `too large for NATS: ${(err as Error).message}`, 'TOO_LARGE');
    }
    const size = frame.length + (tail?.length ?? 0);
    if (this.unflushed + size > host.settings.maxQueueBytes && !(await this.room(host, size))) {
      host.counters.lost.queueFull++;
      return host.drop(
        message,
        `the queue toward NATS held ${host.settings.maxQueueBytes} bytes for ${host.settings.flushTimeoutMs} ms`,
        'UNDELIVERABLE',
      );
    }
    const ids = {
      hub: host.hub,
      instance: host.instance ?? '0'.repeat(32),
      epoch: host.epoch,
      peerEpoch: this.peerEpoch,
      seq: ++this.sent,
    };
    try {
      if (size > PIECE_MAX_BYTES) {
        publishPieces(host.bus, host.subjectOf(this.hub), ids, frame.subarray(header), tail);
      } else {
        writeHeader(frame, EnvelopeKind.DATA, ids.hub, ids.instance, ids.epoch, ids.peerEpoch, ids.seq);
        host.bus.publish(host.subjectOf(this.hub), frame, tail);
      }
    } catch (err) {
      this.sent--;
      host.counters.lost.queueFull++;
      return host.drop(message, `NATS did not take it: ${(err as Error).message}`, 'CONNECTION_LOST');
    }
    host.counters.sent++;
    this.unflushed += size;
    // A flush is a PING the server answers with a PONG: one per frame cost the server and this hub as much
    // as the frame itself (and the client wrote at once instead of with the frames of the same turn). So
    // a flush starts once a quarter of the queue's bound is unconfirmed (well before the bound, so that
    // publishing goes on while it travels), and otherwise at the next tick of the federation
    // (`flushIdle`, every `ackIntervalMs`). The bound itself is unchanged: a frame that finds no room
    // waits for a flush.
    if (this.unflushed >= host.settings.maxQueueBytes / 4) this.flushing ??= this.flush(host);
  }

  /** Starts a flush if bytes wait for one and none is on the way (the federation's periodic tick). */
  flushIdle(): void {
    if (this.unflushed > 0) this.flushing ??= this.flush(this.shared);
  }

  /** The peer acknowledged frames up to `seq` of our current epoch toward it. */
  acked(peerEpoch: number, seq: number): void {
    if (peerEpoch === this.peerEpoch && seq > this.ackedSeq && seq <= this.sent) this.ackedSeq = seq;
  }

  /**
   * The peer's lease ended, or it restarted: what it never acknowledged counts as lost (once: a peer that
   * comes back in the same epoch goes on with the same sequence numbers).
   */
  peerGone(why: string): void {
    const unconfirmed = this.sent - this.ackedSeq;
    this.ackedSeq = this.sent;
    if (unconfirmed === 0) return;
    const host = this.shared;
    host.counters.lost.unconfirmed += unconfirmed;
    host.logger.warn({ peer: this.hub, unconfirmed }, `frames to a hub may be lost: ${why}`);
  }

  /** The peer has a new epoch (it restarted): its numbering starts again. */
  private restart(epoch: number): void {
    if (this.peerEpoch !== 0) this.peerGone('it restarted (a new epoch)');
    this.sent = 0;
    this.ackedSeq = 0;
    this.peerEpoch = epoch;
  }

  /**
   * Flushes what was published so far, and again while a quarter of the bound or more came meanwhile: what
   * came during the last flush but less waits for the next tick (else steady traffic would chain a PING
   * to nearly every frame again).
   */
  private async flush(host: FederationShared): Promise<void> {
    try {
      while (this.unflushed > 0) {
        const covered = this.unflushed;
        await host.bus.flush();
        this.unflushed -= covered;
        if (this.unflushed < host.settings.maxQueueBytes / 4) break;
      }
    } catch {
      // Disconnected or closed: the bytes stay counted until a later flush confirms them.
    } finally {
      this.flushing = undefined;
    }
  }

  /** Waits (up to `flushTimeoutMs`) for room for `size` more bytes toward NATS; false if none came. */
  private async room(host: FederationShared, size: number): Promise<boolean> {
    const deadline = Date.now() + host.settings.flushTimeoutMs;
    while (this.unflushed + size > host.settings.maxQueueBytes) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      this.flushing ??= this.flush(host);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise((resolve) => (timer = setTimeout(resolve, Math.min(left, 50))));
      await Promise.race([this.flushing, late]);
      clearTimeout(timer);
    }
    return true;
  }
}
