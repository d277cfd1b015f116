import { EventEmitter } from 'eventemitter3';
import { Address, LOCAL } from '../core/address';
import type { Routed } from '../core/message';
import { Route, toRoute } from '../core/route';
import type { CredentialProvider } from '../identity/credential-provider';
import type { Identity } from '../identity/identity';
import type { Context, NodeHost } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import { ServicesError } from './errors';
import { ForwardingClient, type RequestFields } from './forwarding-client';
import { nameClaimStatement, type ForwardingReply, type NameClaim } from './forwarding-messages';
import {
  REMOTE_FORWARDER_DEFAULTS,
  checkRemoteForwarderOptions,
  type RemoteForwarderEvents,
  type RemoteForwarderOptions,
} from './remote-forwarder-options';

export {
  REMOTE_FORWARDER_DEFAULTS,
  type RemoteForwarderEvents,
  type RemoteForwarderOptions,
} from './remote-forwarder-options';

/**
 * The client side of forwarding: makes a node that can only connect out reachable through a hub. It starts
 * a local worker, registers with the hub's forwarding service over the node's own connection, and passes
 * on what the hub's forwarder sends: to `destination`, or to the rest of the onward route when the sender
 * named a local worker listed in `deliverTo` (`[TCP, hub] => forwardingAddress => 'echoer'`); never on to a
 * transport hop, nor anywhere else (`access-denied`). Messages keep their local info, so they still
 * count as transport messages and reach only workers that accept those.
 *
 * It heartbeats the hub and, when the hub or its forwarder is lost (the connection dropped, the hub
 * restarted), registers again by itself with bounded exponential backoff: a random address is re-attached
 * with its token (within the hub's grace period), an unbound name is taken back with its token, a name
 * bound to `identity` with a fresh signed challenge.
 */
export class RemoteForwarder extends EventEmitter<RemoteForwarderEvents> {
  /** The local worker that the hub's forwarder sends to. */
  readonly address = Address.unique('rf.');
  private readonly serviceRoute: Route;
  private readonly settings: typeof REMOTE_FORWARDER_DEFAULTS;
  /** Keys of the local addresses a forwarded message may name (`deliverTo`). */
  private readonly deliverable: ReadonlySet<string>;
  private client: ForwardingClient | undefined;
  private unwatchDeadLetters: (() => void) | undefined;
  private logger: Logger;
  private current: { address: string; token: string } | undefined;
  private registered = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private readonly credential: CredentialProvider | undefined;
  private wake: (() => void) | undefined;
  private unwatchCredential: (() => void) | undefined;

  private constructor(
    /** The context it was created from: its node, seen through the context. */
    private readonly host: NodeHost,
    /** The route to the hub. */
    readonly hubRoute: Route,
    /** Where forwarded messages go when the sender named nothing after the forwarding address. */
    readonly destination: Route,
    private readonly name: string | undefined,
    private readonly identity: Identity | undefined,
    options: RemoteForwarderOptions,
  ) {
    super();
    const { name: _name, identity: _identity, credential, ...rest } = options;
    this.credential = credential;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
    this.settings = { ...REMOTE_FORWARDER_DEFAULTS, ...defined };
    this.serviceRoute = hubRoute.append(Address.local(this.settings.service));
    const listed = options.deliverTo?.map((a) => (typeof a === 'string' ? Address.parse(a) : a));
    const first = destination.next;
    this.deliverable = new Set((listed ?? (first === undefined ? [] : [first])).map((a) => a.key));
    this.logger = host.childLogger({ component: 'remote-forwarder' });
  }

  /**
   * Starts a remote forwarder on the node of `ctx` and registers it with the forwarding service behind
   * `hub` (e.g. `route([TCP, 'hub:4000'])`). Resolves once registered; rejects with `ServicesError`
   * (`NAME_TAKEN`, `INVALID_NAME`, `INVALID_REQUEST`, `BAD_PROOF`, `LIMIT_REACHED`, `UNSUPPORTED_VERSION`,
   * or `REGISTRATION_FAILED` with the cause).
   *
   * `{ name: 'bob', identity }` binds `fwd.n.bob` to `identity`: nobody else can take it, and this
   * identity gets it back at once, even as a new process.
   */
  static async create(
    ctx: Context,
    hub: Route | Address | string,
    destination: Route | Address | string = 'listener',
    options: RemoteForwarderOptions = {},
  ): Promise<RemoteForwarder> {
    checkRemoteForwarderOptions(options);
    const forwarder = new RemoteForwarder(
      ctx,
      toRoute(hub),
      toRoute(destination),
      options.name,
      options.identity,
      options,
    );
    await ctx.startWorker(forwarder.address, forwarder.worker, { acceptsTransportMessages: true });
    try {
      await forwarder.registerOnce();
    } catch (err) {
      await forwarder.stop();
      throw err;
    }
    forwarder.emit('registered', forwarder.forwardingAddress);
    forwarder.unwatchCredential = options.credential?.onChange?.(() => void forwarder.presentRenewed());
    forwarder.supervise().catch((err: unknown) => {
      // Only a throwing event listener gets here; the forwarder cannot look after itself any more.
      forwarder.logger.error({ err }, 'the remote forwarder stopped supervising its registration');
      void forwarder.stop();
    });
    return forwarder;
  }

  /**
   * The forwarder's address on the hub (`fwd.r.<32 hex>` or `fwd.n.<name>`). A random address stays the same
   * across reconnects within the hub's grace period (60 s by default); after a longer absence, or at a hub
   * without a state file that restarted, it changes.
   */
  get forwardingAddress(): string {
    return this.current?.address ?? '';
  }

  /** The forwarder's address on the hub, as an Address. */
  get remoteAddress(): Address {
    return Address.local(this.forwardingAddress);
  }

  /** The route to this node for anyone who reaches the hub by the same route: hub, then forwarder. */
  get route(): Route {
    return this.hubRoute.append(this.remoteAddress);
  }

  /** True while registered (false between a loss and the next successful registration). */
  get isRegistered(): boolean {
    return this.registered;
  }

  /**
   * Unregisters (best effort) and stops the local worker and the heartbeat. A name bound to an identity stays
   * reserved for it at the hub, unless `forgetName` is true.
   */
  stop(options: { forgetName?: boolean } = {}): Promise<void> {
    this.stopping ??= (async () => {
      const current = this.current;
      if (this.registered && current !== undefined && !this.host.isNodeStopped) {
        const timeout = Math.min(this.settings.registrationTimeoutMs, 2_000);
        await this.call(
          {
            type: 'unregister',
            address: current.address,
            token: current.token,
            forget: options.forgetName === true ? true : undefined,
          },
          timeout,
        ).catch(() => undefined);
      }
      this.halt();
      await this.host.stopWorker(this.address).catch(() => undefined);
    })();
    return this.stopping;
  }

  // --- registration and heartbeat ----------------------------------------------------------------------

  private async registerOnce(): Promise<void> {
    const timeout = this.settings.registrationTimeoutMs;
    const reply = await (async () => {
      if (this.identity !== undefined) {
        // An identity-bound name: sign the hub's fresh challenge; the token is not needed.
        const claim = await this.claim(timeout);
        const credential = this.credential?.current()[0];
        return this.call({ type: 'register', name: this.name, claim, credential }, timeout);
      }
      const previous = this.name === undefined ? this.current?.address : undefined;
      return this.call(
        { type: 'register', name: this.name, token: this.current?.token, address: previous },
        timeout,
      );
    })().catch((err: unknown) => {
      // A refusal of the challenge, or STOPPED, as it is; a carrying failure as REGISTRATION_FAILED.
      if (err instanceof ServicesError && err.code !== 'TIMEOUT' && err.code !== 'UNREACHABLE') throw err;
      throw new ServicesError(
        'REGISTRATION_FAILED',
        `registration at ${this.hubRoute} failed: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    });
    if (reply.type === 'refused') throw new ServicesError(reply.code, `the hub refused: ${reply.reason}`);
    if (reply.type !== 'registered') {
      throw new ServicesError('REGISTRATION_FAILED', `unexpected ${reply.type} reply to a registration`);
    }
    this.current = { address: reply.address, token: reply.token };
    this.registered = true;
    this.logger.info(
      { forwardingAddress: reply.address, hub: this.hubRoute.toString() },
      'registered at the hub',
    );
  }

  /**
   * Registers again with the renewed credential, so that a hub that admits by credential keeps forwarding
   * past the old one's expiry. A failure is left to the heartbeat, which notices a dropped forwarder.
   */
  private async presentRenewed(): Promise<void> {
    if (!this.registered || this.stopped || this.stopping !== undefined) return;
    try {
      await this.registerOnce();
    } catch (err) {
      this.logger.warn({ err }, 'could not present the renewed credential to the hub');
    }
  }

  /** Asks the hub for a challenge and signs the claim of the name with the identity. */
  private async claim(timeout: number): Promise<NameClaim> {
    const reply = await this.call({ type: 'challenge' }, timeout);
    if (reply.type === 'refused') throw new ServicesError(reply.code, `the hub refused: ${reply.reason}`);
    if (reply.type !== 'challenge') {
      throw new ServicesError('REGISTRATION_FAILED', `unexpected ${reply.type} reply to a challenge request`);
    }
    const key = this.identity!.publicKey;
    const sig = await this.identity!.sign(nameClaimStatement(reply.hub, reply.challenge, this.name!, key));
    return { challenge: reply.challenge, key, sig };
  }

  /** Heartbeats while registered; on a loss, registers again with backoff. Runs until stopped. */
  private async supervise(): Promise<void> {
    while (!this.stopped) {
      await this.sleep(this.settings.heartbeatIntervalMs);
      if (this.stopped) return;
      let problem: Error;
      try {
        const reply = await this.call(
          { type: 'ping', address: this.forwardingAddress },
          this.settings.heartbeatTimeoutMs,
        );
        if (reply.type === 'pong' && reply.alive) continue;
        problem = new ServicesError('FORWARDER_GONE', 'the hub no longer forwards to this node');
      } catch (err) {
        problem = err as Error;
      }
      // Stopping: a ping answered after the unregister says "not alive"; registering again would undo it.
      if (this.stopped || this.stopping !== undefined) return;
      this.registered = false;
      this.logger.warn({ err: problem }, 'lost the hub; registering again');
      this.emit('lost', problem);
      await this.registerAgain();
    }
  }

  private async registerAgain(): Promise<void> {
    const { reconnectInitialMs, reconnectMaxMs, maxReconnectAttempts } = this.settings;
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.registerOnce();
        this.emit('registered', this.forwardingAddress);
        return;
      } catch (err) {
        if (this.stopped) return;
        if (attempt + 1 >= maxReconnectAttempts) {
          this.logger.error({ err, attempts: attempt + 1 }, 'giving up registering at the hub');
          this.emit('failed', err as Error);
          void this.stop();
          return;
        }
        // Exponential, capped, with jitter so that many clients of a restarted hub do not come back at once.
        const delay = Math.min(reconnectMaxMs, reconnectInitialMs * 2 ** Math.min(attempt, 30));
        this.logger.debug({ err, attempt }, 'registration failed; retrying');
        await this.sleep(delay * (0.5 + Math.random() / 2));
      }
    }
  }

  /** Sends a request to the service and waits for its reply. */
  private call(request: RequestFields, timeoutMs: number): Promise<ForwardingReply> {
    if (this.stopped || this.client === undefined)
      return Promise.reject(new ServicesError('STOPPED', 'the remote forwarder stopped'));
    return this.client.call(request, timeoutMs);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
    });
  }

  /** Stops the heartbeat and fails pending calls. */
  private halt(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.registered = false;
    this.wake?.();
    this.unwatchCredential?.();
    this.client?.stop();
    this.unwatchDeadLetters?.();
  }

  // --- the local worker --------------------------------------------------------------------------------

  /** A route named after the forwarding address: local hops only, and its first one listed in `deliverTo`. */
  private mayDeliverTo(more: Route): boolean {
    if (!this.deliverable.has(more.nextOrThrow().key)) return false;
    for (const hop of more) if (hop.type !== LOCAL) return false;
    return true;
  }

  private readonly worker: Worker<unknown> = {
    initialize: (ctx: Context) => {
      this.logger = ctx.logger;
      this.client = new ForwardingClient(this.address, this.serviceRoute, async (to, body) => {
        await ctx.send(to, body);
      });
      this.unwatchDeadLetters = ctx.onDeadLetter(this.client.onDeadLetter);
    },
    handleMessage: (ctx: Context, message: Routed<unknown>) => {
      const body = message.body;
      if (this.client!.takeReply(body)) return;
      const more = message.onwardRoute.stepForward();
      if (!more.isEmpty && !this.mayDeliverTo(more)) {
        ctx.refuse(
          message.message,
          `remote forwarder ${this.address.key} delivers only to ${[...this.deliverable].join(', ')}, not along ${more.toString()}`,
        );
        return;
      }
      // Forwarded on with its local info, so workers that refuse transport messages refuse it too.
      return ctx.forward(
        message.message.withRoutes(more.isEmpty ? this.destination : more, message.returnRoute),
      );
    },
    shutdown: () => this.halt(),
  };
}
