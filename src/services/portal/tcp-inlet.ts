import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Address } from '../../core/address';
import { Route } from '../../core/route';
import { denyAll } from '../../node/worker';
import type { Context } from '../../node/context';
import { formatHostPort, parseHostPort } from '../../transport/tcp/host-port';
import { PortalError } from './errors';
import { PORTAL_DEFAULTS, sessionLimits, timeoutOption, type PortalSessionOptions } from './options';
import { PortalEnd } from './portal-end';
import { PortalSession } from './portal-session';
import { sessionAccess, sessionAddress } from './session-access';

function noop(): void {}

/** Options of `createTcpInlet`. */
export interface TcpInletOptions extends PortalSessionOptions {
  /** How long a new connection waits for the outlet's answer (the target connected) before it is reset. */
  readonly openTimeoutMs?: number;
}

/**
 * The end of a portal where the clients are (Alice's machine): a TCP listener whose every connection
 * becomes a session with the outlet at the end of a route (`route(channel, 'postgres')`), its bytes carried
 * as messages through that route's secure channel. Unmodified clients (psql, redis-cli, curl) connect to
 * `address`. Close it with `close()`; it also closes when its node stops.
 */
export class TcpInlet extends PortalEnd {
  readonly side = 'inlet' as const;
  private readonly openTimeoutMs: number;
  /** The local encryptor the route starts with (the channel), to which sessions' replies are held. */
  private readonly channelKey: string | undefined;
  private closer: Address | undefined;

  private constructor(
    ctx: Context,
    private readonly server: Server,
    /** Where the outlet is: a route whose first hop is the secure channel to the outlet's node. */
    readonly to: Route,
    options: TcpInletOptions,
  ) {
    super(ctx, sessionLimits('TcpInletOptions', options), ctx.logger.child({ inlet: to.toString() }));
    this.openTimeoutMs = timeoutOption(
      'TcpInletOptions.openTimeoutMs',
      options.openTimeoutMs,
      PORTAL_DEFAULTS.openTimeoutMs,
    );
    this.channelKey = to.next?.key;
    server.on('connection', (socket) => void this.accept(socket));
  }

  /** @internal See `createTcpInlet`. */
  static async create(
    ctx: Context,
    bind: string,
    to: Route,
    options: TcpInletOptions = {},
  ): Promise<TcpInlet> {
    let hostPort;
    try {
      hostPort = parseHostPort(bind, true);
    } catch (cause) {
      throw new PortalError('INVALID_OPTION', 'createTcpInlet address must be host:port', { cause });
    }
    if (!(to instanceof Route) || to.isEmpty)
      throw new PortalError('INVALID_OPTION', 'createTcpInlet needs a route, such as route(channel, name)');
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    const inlet = new TcpInlet(ctx, server, to, options);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(hostPort.port, hostPort.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (cause) {
      await inlet.close();
      throw new PortalError('BIND_FAILED', `the inlet could not listen at ${bind}`, { cause });
    }
    server.on('error', (error) => inlet.logger.error({ err: error }, 'portal inlet listener failed'));
    // A worker that takes no messages, there so that the node stopping closes the inlet (its shutdown).
    const closer = Address.local(`pin.${randomBytes(12).toString('base64url')}`);
    try {
      await ctx.startWorker(
        closer,
        { handleMessage: noop, shutdown: () => void inlet.close() },
        { access: denyAll },
      );
    } catch (error) {
      await inlet.close();
      throw error;
    }
    inlet.closer = closer;
    return inlet;
  }

  /** Where clients connect, `host:port` (the port chosen when it was 0). */
  get address(): string {
    const bound = this.server.address() as AddressInfo | null;
    return bound === null ? '' : formatHostPort(bound.address, bound.port);
  }

  private async accept(socket: Socket): Promise<void> {
    socket.on('error', () => undefined); // the session reports it; a refused one has nothing to say
    if (this.isClosed) return void socket.resetAndDestroy();
    if (this.sessionCount >= this.limits.maxSessions) {
      this.stats.limits.sessions++;
      socket.resetAndDestroy();
      const error = new PortalError(
        'LIMIT_REACHED',
        `${this.limits.maxSessions} sessions open (maxSessions)`,
      );
      return this.refuse(error, { remote: `${socket.remoteAddress}:${socket.remotePort}` });
    }
    const session = new PortalSession(sessionAddress('inlet'), socket, this, this.channelKey, undefined);
    this.add(session);
    try {
      await this.ctx.startWorker(session.address, session, { access: sessionAccess(this.channelKey) });
    } catch (cause) {
      return session.finish(new PortalError('CLOSED', 'the session could not start', { cause }));
    }
    session.open(this.to, this.openTimeoutMs);
  }

  protected async stopAccepting(): Promise<void> {
    if (this.closer !== undefined && this.ctx.hasWorker(this.closer))
      void this.ctx.stopWorker(this.closer).catch(noop);
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  toJSON(): Record<string, unknown> {
    return { address: this.address, to: this.to.toString(), sessions: this.sessionCount };
  }
}

/**
 * Listens at `bind` (`host:port`, port 0 for a free one; see `TcpInlet.address`) and carries every TCP
 * connection to the outlet at `to`, typically `route(channel, 'postgres')`, through that secure channel.
 */
export function createTcpInlet(
  ctx: Context,
  bind: string,
  to: Route,
  options: TcpInletOptions = {},
): Promise<TcpInlet> {
  return TcpInlet.create(ctx, bind, to, options);
}
