import type { Address } from '../core/address';
import type { Context } from '../node/context';
import { ForwardingService, type ForwardingServiceOptions } from '../services/forwarding-service';
import { Federation, type FederationOptions } from './federation';

/** A hub's forwarding service options, and the federation it joins. */
export interface FederatedHubOptions extends ForwardingServiceOptions {
  /** Where NATS is (servers, credentials, TLS), or a ready `FederationBus`. */
  readonly nats: FederationOptions['nats'];
  /** This hub's name in the federation (its NATS subject's last token). */
  readonly hub: string;
  /** The rest of the federation's options (defaults: `FEDERATION_DEFAULTS`). */
  readonly federation?: Omit<FederationOptions, 'nats' | 'hub'>;
  /** The forwarding service's address (default `forwarding_service`). */
  readonly address?: string | Address;
}

/** A forwarding service that is one of a federation of hubs. */
export interface FederatedHub {
  readonly service: ForwardingService;
  readonly federation: Federation;
  /** Stops the service, then leaves the federation. */
  stop(): Promise<void>;
}

/**
 * Starts a hub's forwarding service as a member of a federation of hubs on NATS: what `--nats <urls>`
 * does for the command line. Every name is then bound to an identity and claimed federation-wide; a name
 * registered at any hub of the federation is reachable through every one (docs/federation.md).
 */
export async function startFederatedHub(ctx: Context, options: FederatedHubOptions): Promise<FederatedHub> {
  const { nats, hub, federation: more, address, ...forwarding } = options;
  const federation = await Federation.start(ctx, {
    ...more,
    nats,
    hub,
    vault: more?.vault ?? forwarding.vault,
  });
  let service: ForwardingService;
  try {
    service = await ForwardingService.start(ctx, address ?? 'forwarding_service', {
      ...forwarding,
      admit: federation.admission(forwarding.admit),
    });
    federation.attach(service);
  } catch (err) {
    await federation.stop();
    throw err;
  }
  return {
    service,
    federation,
    stop: async () => {
      await service.stop().catch(() => undefined);
      await federation.stop();
    },
  };
}
