import type { DeliveryFailureCode } from '../core/delivery-failure';
import type { Routed } from '../core/message';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { ThrottledLog } from '../transport/throttled-log';
import type { FederationLosses, FederationSettings } from './federation-options';
import type { FederationBus } from './nats-bus';

/** What the federation counts (`Federation.stats()`). */
export interface FederationCounters {
  sent: number;
  received: number;
  forgedRecords: number;
  malformed: number;
  refused: number;
  slowConsumers: number;
  disconnects: number;
  readonly lost: FederationLosses;
}

/**
 * What the parts of one hub's federation share: who the hub is (name, epoch, instance), NATS, the settings,
 * the counters, and the node it runs on (set when its control worker starts).
 */
export class FederationShared {
  ctx!: Context;
  logger!: Logger;
  warnings!: ThrottledLog;
  /** The forwarding service's instance id, once it runs (`Federation.attach`). */
  instance: string | undefined;
  stopped = false;
  readonly counters: FederationCounters = {
    sent: 0,
    received: 0,
    forgedRecords: 0,
    malformed: 0,
    refused: 0,
    slowConsumers: 0,
    disconnects: 0,
    lost: {
      inTransit: 0,
      unconfirmed: 0,
      staleEpoch: 0,
      queueFull: 0,
      inboundFull: 0,
      unroutable: 0,
      tooLarge: 0,
      transit: 0,
    },
  };

  constructor(
    readonly hub: string,
    /** This hub's lease epoch: new at every start. */
    readonly epoch: number,
    readonly bus: FederationBus,
    readonly settings: FederationSettings,
  ) {}

  /** The NATS subject of `hub`. */
  subjectOf(hub: string): string {
    return subjectOf(this.settings.prefix, hub);
  }

  /** A frame that goes no further: logged (throttled) and a dead letter, whose sender gets a notice. */
  drop(message: Routed<unknown>, detail: string, code: DeliveryFailureCode): void {
    this.warnings.warn({ address: message.address.value, detail }, 'the federation dropped a frame');
    this.ctx.deadLetter('undeliverable', detail, message.message, { code });
  }
}

/** The NATS subject of a hub: the only one it subscribes to for frames. */
export function subjectOf(prefix: string, hub: string): string {
  return `${prefix}.hub.${hub}`;
}
