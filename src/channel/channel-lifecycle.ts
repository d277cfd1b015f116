import { DeliveryFailureNotice, type DeliveryFailureCode } from '../core/delivery-failure';
import { LocalMessage } from '../core/message';
import { Route } from '../core/route';
import type { Address } from '../core/address';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { NodeRuntime } from '../node/node-runtime';
import type { ReplyAddress } from '../node/router';
import { SecureChannelError } from './errors';
import { PayloadKind } from './frames';
import type { ChannelInit, CloseReason, SecureChannel } from './secure-channel';

function noop(): void {}

/** An end's `stopped` until it tears down: one settled promise for all of them. */
const RESOLVED: Promise<void> = Promise.resolve();

/** How many untracked reply slots a channel end holds before it drops those already answered. */
const PRUNE_PENDING_AT = 64;

/**
 * The open channel ends of a node: so that a node that stops can send CLOSE on every one of them before its
 * workers (and transports) stop, and the peers notice at once instead of at their `peerTimeout`; and, by the
 * first hop of their route to the peer (a connection), so that the ends over a connection that closed close
 * at once (`CONNECTION_LOST`): a channel's route is fixed at its handshake, and a new connection has a new
 * address, so nothing would ever reach the peer again.
 */
class OpenChannels {
  private readonly all = new Set<ChannelLifecycle>();
  private readonly byFirstHop = new Map<string, Set<ChannelLifecycle>>();

  constructor(node: NodeRuntime) {
    node.once('stopping', () => {
      for (const each of this.all) each.nodeStopping();
    });
    node.on('workerStopped', (address) => {
      const over = this.byFirstHop.get(address.key);
      if (over === undefined) return;
      for (const each of [...over]) each.firstHopStopped();
    });
  }

  add(end: ChannelLifecycle, firstHop: string | undefined): void {
    this.all.add(end);
    if (firstHop === undefined) return;
    let over = this.byFirstHop.get(firstHop);
    if (over === undefined) this.byFirstHop.set(firstHop, (over = new Set()));
    over.add(end);
  }

  delete(end: ChannelLifecycle, firstHop: string | undefined): void {
    this.all.delete(end);
    if (firstHop === undefined) return;
    const over = this.byFirstHop.get(firstHop);
    if (over?.delete(end) === true && over.size === 0) this.byFirstHop.delete(firstHop);
  }
}

/**
 * The key of the hop between a channel end and the peer (a connection, a relay) whose stop ends the route, or
 * undefined when the route is the peer's decryptor alone (a peer on this node: its own CLOSE will come).
 */
function firstHopOf(peerRoute: Route): string | undefined {
  return peerRoute.length > 1 ? peerRoute.next!.key : undefined;
}

const openOnNode = new WeakMap<NodeRuntime, OpenChannels>();

function openChannelsOf(node: NodeRuntime): OpenChannels {
  let open = openOnNode.get(node);
  if (open === undefined) openOnNode.set(node, (open = new OpenChannels(node)));
  return open;
}

/**
 * A channel end's life after its handshake: open until `teardown` (once, for a `CloseReason`), which wipes
 * the keys, fails the requests still waiting for a reply through it, stops its workers and resolves
 * `closed`. It closes on `close()`, on the peer's CLOSE, when its workers or node stop, when the first hop of
 * its route stops or dead-letters a frame (`routeLost`), and when liveness gives up on the peer.
 */
export class ChannelLifecycle {
  reason: CloseReason | undefined;
  /** `closeReason` as a typed error, once closed. */
  error: SecureChannelError | undefined;
  readonly closed: Promise<CloseReason>;
  private resolveClosed!: (reason: CloseReason) => void;
  /** What the dead letter said when the route to the peer was found gone. */
  private lostCode: DeliveryFailureCode | undefined;
  /** Reply slots of requests sent through this end: they fail at once when it closes. */
  private pendingReplies: Set<ReplyAddress> | undefined; // made at the first request: most ends carry none
  private prunePendingAt = PRUNE_PENDING_AT;
  private stopped: Promise<void> = RESOLVED;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly ctx: Context;
  private readonly openSet: OpenChannels;
  /** What it needs of its `ChannelInit` (not the init itself: that would keep the handshake's outcome). */
  readonly logger: Logger;
  private readonly closedLinger: number;

  constructor(
    private readonly channel: SecureChannel,
    init: ChannelInit,
  ) {
    this.ctx = init.ctx;
    this.logger = init.logger;
    this.closedLinger = init.limits.closedLinger;
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    this.openSet = openChannelsOf(this.ctx.node);
    this.openSet.add(this, firstHopOf(init.peerRoute));
  }

  /** Sends CLOSE, then tears down; resolves once this end's workers stopped. Idempotent. */
  async close(): Promise<void> {
    if (this.reason === undefined) {
      const sent = this.sendClose();
      this.teardown('local');
      await sent;
    }
    await this.stopped;
  }

  /**
   * Sends the authenticated CLOSE frame (best effort: if it cannot go, the peer learns of the close when its
   * own sends go nowhere). Resolves once it is queued at the next hop; never rejects.
   */
  sendClose(): Promise<void> {
    if (this.reason !== undefined) return Promise.resolve();
    return this.channel.end.encryptor.sendControl(PayloadKind.CLOSE);
  }

  /** Remembers a request's reply slot, so that it fails at once should the channel close before the reply. */
  trackRequest(slot: ReplyAddress): void {
    const pending = (this.pendingReplies ??= new Set());
    pending.add(slot);
    if (pending.size < this.prunePendingAt) return;
    for (const each of pending) if (each.target === undefined) pending.delete(each);
    this.prunePendingAt = Math.max(PRUNE_PENDING_AT, 2 * pending.size);
  }

  /**
   * The first hop of the route to the peer stopped or dead-lettered a frame on the spot: a channel's route
   * is fixed at its handshake, so nothing will ever reach the peer again. Closes rather than keep a dead
   * channel that swallows every later message.
   */
  routeLost(code: DeliveryFailureCode | undefined): void {
    if (this.reason !== undefined) return;
    const { encryptor } = this.channel.end;
    const log = {
      channel: this.channel.address.key,
      remote: this.channel.remoteIdentifier,
      route: encryptor.peerRoute.toString(),
      code,
    };
    if (encryptor.reliable !== undefined) {
      // A reliable channel outlives its route: it resumes once a frame comes back (or closes at peerTimeout).
      if (encryptor.routeDown()) this.logger.warn(log, 'reliable secure channel lost its route to the peer');
      return;
    }
    this.lostCode = code;
    this.logger.warn(log, 'secure channel closed: its route to the peer is gone');
    this.teardown('failed');
  }

  /** A reliable channel sends by a new route: it is now told when that route's first hop stops. */
  routeChanged(before: Route, after: Route): void {
    if (this.reason !== undefined) return;
    this.openSet.delete(this, firstHopOf(before));
    this.openSet.add(this, firstHopOf(after));
    this.logger.info(
      { channel: this.channel.address.key, remote: this.channel.remoteIdentifier, route: after.toString() },
      'reliable secure channel resumed',
    );
  }

  /** The first hop of the route to the peer (a connection's worker) stopped. */
  firstHopStopped(): void {
    if (!this.ctx.isNodeStopped) this.routeLost('CONNECTION_LOST');
  }

  /**
   * This end's node is about to stop: CLOSE goes to the peer, unless the peer's decryptor is on this very
   * node (it stops too, and the CLOSE would only become its dead letter).
   */
  nodeStopping(): void {
    const peer = this.channel.end.encryptor.peerRoute.recipient;
    if (peer !== undefined && peer.isLocal && this.ctx.hasWorker(peer)) return;
    void this.sendClose();
  }

  /** The encryptor stopped (linger over, or its node stopped). */
  encryptorStopped(): void {
    clearTimeout(this.lingerTimer);
    this.teardown('stopped');
  }

  /**
   * Closes this end without telling the peer: wipes the keys, stops the decryptor, and keeps the encryptor
   * for `closedLinger` ms so that late sends are dead-lettered with a clear reason. Idempotent.
   */
  teardown(reason: CloseReason): void {
    if (this.reason !== undefined) return;
    this.reason = reason;
    const { channel } = this;
    const { encryptor, decryptor, liveness } = channel.end;
    this.openSet.delete(this, firstHopOf(encryptor.peerRoute));
    liveness.stop();
    channel.credentials?.dispose();
    const code: DeliveryFailureCode =
      reason === 'unresponsive' ? 'PEER_UNRESPONSIVE' : (this.lostCode ?? 'CHANNEL_CLOSED');
    this.error = new SecureChannelError(
      code === 'CHANNEL_CLOSED' ? 'CLOSED' : code,
      `secure channel ${channel.address.key} closed (${reason}${this.lostCode ? `: ${this.lostCode}` : ''})`,
    );
    encryptor.destroy();
    decryptor.destroy();
    this.failPending(code, this.error);
    // Not awaited: teardown often runs inside the decryptor's own handler, which must finish first.
    const stops = [this.stopWorker(channel.decryptorAddress)];
    if (reason === 'local' || reason === 'remote' || reason === 'idle' || reason === 'unresponsive') {
      this.lingerTimer = setTimeout(() => void this.stopWorker(channel.address), this.closedLinger);
      this.lingerTimer.unref();
    } else {
      stops.push(this.stopWorker(channel.address));
    }
    this.stopped = Promise.all(stops).then(noop);
    this.logger.debug(
      { channel: channel.address.key, remote: channel.remoteIdentifier, reason },
      'secure channel closed',
    );
    channel.emit('closed', reason);
    if (reason !== 'local' && reason !== 'stopped') channel.emit('lost', this.error);
    this.resolveClosed(reason);
  }

  /** Fails every request still waiting for a reply through this end (it just closed). */
  private failPending(code: DeliveryFailureCode, error: SecureChannelError): void {
    if (this.pendingReplies === undefined) return;
    const notice = new DeliveryFailureNotice(code, error);
    const from = Route.of([this.channel.decryptorAddress]);
    for (const slot of this.pendingReplies) {
      const target = slot.target;
      if (target !== undefined) void target.deliver(new LocalMessage(from, from, notice));
    }
    this.pendingReplies.clear();
  }

  private stopWorker(address: Address): Promise<void> {
    if (!this.ctx.hasWorker(address)) return Promise.resolve();
    return this.ctx.stopWorker(address).catch(noop);
  }
}
