import type { Route } from '../core/route';
import type { HandshakeWorker } from './handshake-worker';
import type { SecureChannel } from './secure-channel';

/**
 * What a listener holds, bounded: its handshakes in progress, by source (the first hops of the HELLO's return
 * route), and its open channels, by peer identity. Pure bookkeeping: the listener decides what to refuse and
 * whom to evict from what this says.
 */
export class ListenerAdmission {
  /** Handshakes in progress, oldest first, and by source (each set oldest first too). */
  private readonly pending = new Map<HandshakeWorker, string>();
  private readonly bySource = new Map<string, Set<HandshakeWorker>>();
  /** Open channels by peer identifier, oldest first (a Set keeps insertion order). */
  private readonly byIdentity = new Map<string, Set<SecureChannel>>();

  /** Handshakes in progress. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** The handshakes in progress, oldest first. */
  handshakes(): HandshakeWorker[] {
    return [...this.pending.keys()];
  }

  /** Handshakes in progress from `source`. */
  fromSource(source: string): number {
    return this.bySource.get(source)?.size ?? 0;
  }

  startHandshake(worker: HandshakeWorker, source: string): void {
    this.pending.set(worker, source);
    let ofSource = this.bySource.get(source);
    if (ofSource === undefined) this.bySource.set(source, (ofSource = new Set()));
    ofSource.add(worker);
  }

  endHandshake(worker: HandshakeWorker): void {
    const source = this.pending.get(worker);
    if (source === undefined) return;
    this.pending.delete(worker);
    const handshakes = this.bySource.get(source)!;
    handshakes.delete(worker);
    if (handshakes.size === 0) this.bySource.delete(source);
  }

  /**
   * The handshake to give up to make room for one more: the oldest of the source holding the most (the
   * oldest overall among equals), so whoever floods evicts its own and a newcomer still gets in.
   */
  evictionVictim(): HandshakeWorker | undefined {
    let victim: HandshakeWorker | undefined;
    let most = 0;
    for (const handshakes of this.bySource.values()) {
      if (handshakes.size > most) {
        most = handshakes.size;
        victim = handshakes.values().next().value;
      }
    }
    return victim;
  }

  /** Counts a new channel against its peer's identity; returns the oldest ones over `max`, to be closed. */
  admitChannel(channel: SecureChannel, max: number): SecureChannel[] {
    const identifier = channel.remoteIdentifier;
    if (identifier === undefined) return [];
    let channels = this.byIdentity.get(identifier);
    if (channels === undefined) this.byIdentity.set(identifier, (channels = new Set()));
    channels.add(channel);
    const over: SecureChannel[] = [];
    while (channels.size > max) {
      const oldest = channels.values().next().value!;
      channels.delete(oldest);
      over.push(oldest);
    }
    return over;
  }

  releaseChannel(channel: SecureChannel): void {
    const identifier = channel.remoteIdentifier;
    if (identifier === undefined) return;
    const channels = this.byIdentity.get(identifier);
    if (channels?.delete(channel) === true && channels.size === 0) this.byIdentity.delete(identifier);
  }
}

/**
 * Who sent a HELLO, as far as this node can tell: the first two hops of its return route without the last
 * (the initiator's own decryptor, fresh for each handshake). The first hop was put there by this node's
 * transport (the connection), the second by the node at its other end (a hub's connection to its client);
 * hops further back are the sender's to choose, so they do not count.
 */
export function sourceOf(returnRoute: Route): string {
  const hops = Math.min(2, returnRoute.length - 1);
  if (hops <= 0) return '';
  return hops === 1 ? returnRoute.at(0)!.key : `${returnRoute.at(0)!.key} ${returnRoute.at(1)!.key}`;
}
