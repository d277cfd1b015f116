import type { Address } from '../core/address';
import { TRANSPORT_INFO, type Routed } from '../core/message';
import { unref, type Timer } from './timers';
import type { ConnectionInfo } from './transport';

/**
 * Whether a connection is vouched for: one this node made is; one a listener accepted is not until
 * something shows it is in use (a forwarder registered through it, a secure channel completed over it; see
 * `TransportOrigin.vouch`), and it may be closed if nobody vouches for it within `unvouchedTimeoutMs`.
 */
export class ConnectionVouching {
  private timer: Timer | undefined;

  constructor(private vouched: boolean) {}

  get isVouched(): boolean {
    return this.vouched;
  }

  /** Marks the connection as in use; the limit no longer runs. */
  vouch(): void {
    if (this.vouched) return;
    this.vouched = true;
    this.stop();
  }

  /** What messages from the connection carry (`TRANSPORT_INFO`): through it, whoever handles them vouches. */
  info(connection: Address, remote: string): ConnectionInfo {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the getter reads the live state
    const vouching = this;
    return Object.freeze({
      connection,
      remote,
      vouch: () => this.vouch(),
      get isVouched() {
        return vouching.vouched;
      },
    });
  }

  /** Something from a vouched connection (a hub's registered client answering, say) makes this one in use. */
  vouchIfFromVouched(message: Routed<unknown>): void {
    const origin = message.localInfo[TRANSPORT_INFO] as ConnectionInfo | undefined;
    if (origin !== undefined && origin.isVouched === true) this.vouch();
  }

  /** Runs `expired` unless someone vouches within `timeoutMs` (0: no limit). */
  start(timeoutMs: number, expired: () => void): void {
    if (this.vouched || timeoutMs <= 0) return;
    this.timer = unref(
      setTimeout(() => {
        this.timer = undefined;
        expired();
      }, timeoutMs),
    );
  }

  /** Stops the limit (the connection closed). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
