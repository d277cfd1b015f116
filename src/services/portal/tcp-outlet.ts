import { Socket } from 'node:net';
import { Address } from '../../core/address';
import type { Routed } from '../../core/message';
import { fromSecureChannel, secureChannelInfoOf } from '../../channel/access';
import type { TrustPolicy } from '../../identity';
import type { Context } from '../../node/context';
import type { Worker } from '../../node/worker';
import { parseHostPort, type HostPort } from '../../transport/tcp/host-port';
import { PortalError } from './errors';
import { PORTAL_VERSION, decodePortalMessage, encodeRst, type ResetReason } from './messages';
import {
  MIN_WINDOW_BYTES,
  PORTAL_DEFAULTS,
  fail,
  sessionLimits,
  timeoutOption,
  type PortalSessionOptions,
} from './options';
import { PortalEnd } from './portal-end';
import { PortalSession } from './portal-session';
import { sessionAccess, sessionAddress } from './session-access';
import { integerOption } from '../../core/options';

/**
 * Who may open sessions through an outlet: a list of identifiers, or a trust policy (`TrustIdentifier`,
 * `anyOf`, `trustIf`, ... ; `TrustAnyIdentity` to admit any authenticated peer, said out loud). It is
 * checked on every message to the outlet against every secure channel the message came out of.
 */
export type PortalAccess = TrustPolicy | readonly string[];

/** Options of `createTcpOutlet`. */
export interface TcpOutletOptions extends PortalSessionOptions {
  /** Required: who may open sessions (see `PortalAccess`). There is no default that admits anyone. */
  readonly access: PortalAccess;
  /** Sessions open at once through one secure channel. Default 1024. */
  readonly maxSessionsPerChannel?: number;
  /** How long a connection to the target may take. Default 10 s. */
  readonly connectTimeoutMs?: number;
}

function noop(): void {}

/**
 * The end of a portal next to a TCP service (Bob's database): a worker at `name` that takes OPENs out of
 * secure channels whose peers pass `access`, and for each opens one TCP connection to `target`, which only
 * its owner chose: nothing a client sends names where the outlet connects. Close it with `close()`; it also
 * closes when its node stops.
 */
export class TcpOutlet extends PortalEnd {
  readonly side = 'outlet' as const;
  private readonly maxSessionsPerChannel: number;
  private readonly connectTimeoutMs: number;

  private constructor(
    ctx: Context,
    /** The outlet's address on its node: what inlets put after the channel in their route. */
    readonly address: Address,
    /** The TCP service it connects to, `host:port`. */
    readonly target: string,
    private readonly targetHostPort: HostPort,
    options: TcpOutletOptions,
  ) {
    super(ctx, sessionLimits('TcpOutletOptions', options), ctx.logger.child({ outlet: address.key }));
    this.maxSessionsPerChannel = integerOption(
      'TcpOutletOptions.maxSessionsPerChannel',
      options.maxSessionsPerChannel,
      PORTAL_DEFAULTS.maxSessionsPerChannel,
      { min: 1, max: 1_000_000 },
      fail,
    );
    this.connectTimeoutMs = timeoutOption(
      'TcpOutletOptions.connectTimeoutMs',
      options.connectTimeoutMs,
      PORTAL_DEFAULTS.connectTimeoutMs,
    );
  }

  /** @internal See `createTcpOutlet`. */
  static async create(
    ctx: Context,
    name: string,
    target: string,
    options: TcpOutletOptions,
  ): Promise<TcpOutlet> {
    if (options?.access === undefined) {
      throw fail('TcpOutletOptions.access is required: a list of identifiers or a trust policy');
    }
    let hostPort: HostPort;
    try {
      hostPort = parseHostPort(target);
    } catch (cause) {
      throw new PortalError('INVALID_OPTION', `createTcpOutlet target must be host:port`, { cause });
    }
    const address = Address.local(name);
    const outlet = new TcpOutlet(ctx, address, target, hostPort, options);
    const access = fromSecureChannel(options.access as TrustPolicy | readonly string[]);
    try {
      await ctx.startWorker(address, new OutletWorker(outlet), { access: [access] });
    } catch (error) {
      await outlet.close();
      throw error;
    }
    return outlet;
  }

  /** @internal An OPEN out of a channel whose peer passed the access rule. */
  async handleOpen(ctx: Context, message: Routed): Promise<void> {
    if (this.isClosed) return;
    const info = secureChannelInfoOf(message)!; // the access rule admits nothing else
    const where = { channel: info.channel.key, remote: info.identifier };
    const reply = (reason: ResetReason): void =>
      void ctx.send(message.returnRoute, encodeRst(reason)).catch(noop);
    let open;
    try {
      open = decodePortalMessage(message.body as Uint8Array);
    } catch {
      open = undefined;
    }
    if (open?.kind !== 'OPEN') {
      // A stray session message (its session is gone) or junk: nothing to answer it with but a drop.
      this.peerLog.warn(where, 'portal outlet dropped a message that is not an OPEN');
      return;
    }
    if (open.version !== PORTAL_VERSION) {
      reply('UNSUPPORTED_VERSION');
      return this.refuse(new PortalError('UNSUPPORTED_VERSION', `OPEN of version ${open.version}`), where);
    }
    if (open.window < MIN_WINDOW_BYTES) {
      reply('PROTOCOL');
      return this.refuse(new PortalError('PROTOCOL', `OPEN granting ${open.window} bytes`), where);
    }
    if (this.sessionCount >= this.limits.maxSessions) {
      this.stats.limits.sessions++;
      reply('LIMIT_REACHED');
      return this.refuse(
        new PortalError('LIMIT_REACHED', `${this.limits.maxSessions} sessions open (maxSessions)`),
        where,
      );
    }
    if (this.sessionsOn(info.channel.key) >= this.maxSessionsPerChannel) {
      this.stats.limits.sessionsPerChannel++;
      reply('LIMIT_REACHED');
      const detail = `${this.maxSessionsPerChannel} sessions open through this channel (maxSessionsPerChannel)`;
      return this.refuse(new PortalError('LIMIT_REACHED', detail), where);
    }

    const { host, port } = this.targetHostPort;
    const socket = new Socket({ allowHalfOpen: true });
    const session = new PortalSession(
      sessionAddress('outlet'),
      socket,
      this,
      info.channel.key,
      info.identifier,
    );
    session.accept(message.returnRoute, open.window);
    this.add(session);
    try {
      await ctx.startWorker(session.address, session, { access: sessionAccess(info.channel.key) });
    } catch (cause) {
      return session.finish(new PortalError('CLOSED', 'the session could not start', { cause }));
    }
    const timer = setTimeout(
      () => socket.destroy(new Error(`connect timed out after ${this.connectTimeoutMs} ms`)),
      this.connectTimeoutMs,
    );
    const failed = (cause: Error): void => {
      clearTimeout(timer);
      // The cause stays here; the inlet learns only TARGET_UNREACHABLE.
      this.logger.warn(
        { ...where, target: this.target, err: cause },
        'portal outlet could not connect to its target',
      );
      const error = new PortalError('TARGET_UNREACHABLE', `could not connect to ${this.target}`, { cause });
      session.abort(error, 'TARGET_UNREACHABLE');
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', failed);
      socket.setNoDelay(true);
      session.connected();
    });
    socket.pause();
    socket.connect(port, host);
  }

  protected async stopAccepting(): Promise<void> {
    await this.ctx.stopWorker(this.address).catch(noop);
  }

  toJSON(): Record<string, unknown> {
    return { address: this.address.toString(), target: this.target, sessions: this.sessionCount };
  }
}

/** The worker at the outlet's address: OPENs only. */
class OutletWorker implements Worker {
  constructor(private readonly outlet: TcpOutlet) {}

  handleMessage(ctx: Context, message: Routed): Promise<void> {
    return this.outlet.handleOpen(ctx, message);
  }

  shutdown(): void {
    void this.outlet.close(); // the node stops
  }
}

/**
 * Starts an outlet at `name` on the node of `ctx` that carries sessions to the TCP service at `target`
 * (`host:port`, fixed here: no client can choose it) for the secure channel peers `options.access` admits.
 * An inlet reaches it at `route(channel, name)`.
 */
export function createTcpOutlet(
  ctx: Context,
  name: string,
  target: string,
  options: TcpOutletOptions,
): Promise<TcpOutlet> {
  return TcpOutlet.create(ctx, name, target, options);
}
