import type { Destination } from '../node/context';
import type { Context } from '../node/context';
import { createSecureChannel, type SecureChannelOptions } from '../channel/create-secure-channel';
import type { SecureChannel } from '../channel/secure-channel';
import type { Authority } from '../identity/credential';
import type { Identity } from '../identity/identity';
import { TrustIdentifier, authorityOf } from '../identity/trust-policy';
import { route } from '../core/route';
import { AuthorityError } from './authority-errors';
import {
  AUTHORITY_PROTOCOL_VERSION,
  parseAuthorityReply,
  type AuthorityReply,
  type MemberInfo,
} from './authority-messages';
import type { NewTicket, TicketOptions } from './authority';

/** What `AuthorityClient.connect` may be told. */
export interface AuthorityClientOptions {
  /** The authority worker's address on its node (behind its listener). Default `authority`. */
  readonly service?: string;
  /** How long each request waits for its answer, in ms. Default 10 s. */
  readonly timeout?: number;
  /** Options of the secure channel to the authority (its trust policy is always the authority's identifier). */
  readonly channel?: Omit<SecureChannelOptions, 'trustPolicy'>;
}

/**
 * Talks to an authority over a secure channel that trusts exactly the authority's identity: asks for this
 * identity's credential, enrolls with a ticket, and (for an enroller) manages members and makes tickets.
 * Every refusal is an `AuthorityError` with the authority's code (`NOT_MEMBER`, `BAD_TICKET`,
 * `TICKET_USED`, `TICKET_EXPIRED`, `NOT_ENROLLER`...).
 */
export class AuthorityClient {
  private constructor(
    private readonly ctx: Context,
    readonly authority: Authority,
    readonly channel: SecureChannel,
    private readonly service: string,
    private readonly timeout: number,
  ) {}

  /**
   * Opens a secure channel as `identity` to the authority's listener at `to`, trusting only `authority`
   * (its identity, or public key). Rejects with the channel's `SecureChannelError` if it cannot.
   */
  static async connect(
    ctx: Context,
    identity: Identity,
    to: Destination,
    authority: Identity | Authority | Uint8Array | string,
    options: AuthorityClientOptions = {},
  ): Promise<AuthorityClient> {
    const known = authorityOf(authority);
    const channel = await createSecureChannel(ctx, identity, to, {
      ...options.channel,
      trustPolicy: TrustIdentifier(known.identifier),
    });
    return new AuthorityClient(
      ctx,
      known,
      channel,
      options.service ?? 'authority',
      options.timeout ?? 10_000,
    );
  }

  /** A fresh credential for this identity (it must be a member). */
  async credential(): Promise<Uint8Array> {
    return this.expect(await this.ask({ type: 'credential' }), 'credential').credential;
  }

  /** Enrolls this identity with a ticket code (`<id>.<secret>`); resolves with its first credential. */
  async enroll(code: string): Promise<Uint8Array> {
    return this.expect(await this.ask({ type: 'enroll', ticket: code }), 'credential').credential;
  }

  /** Adds `identifier` as a member with `attributes` (replacing its attributes if it is one). Enrollers only. */
  async addMember(identifier: string, attributes: Readonly<Record<string, string>> = {}): Promise<void> {
    this.expect(await this.ask({ type: 'add-member', identifier, attributes: { ...attributes } }), 'ok');
  }

  /** Removes a member: it gets no further credential (those it holds stay valid until they expire). */
  async removeMember(identifier: string): Promise<void> {
    this.expect(await this.ask({ type: 'remove-member', identifier }), 'ok');
  }

  /** Makes an enrollment ticket. Enrollers only. */
  async createTicket(options: TicketOptions = {}): Promise<NewTicket> {
    const reply = this.expect(
      await this.ask({
        type: 'create-ticket',
        attributes: { ...options.attributes },
        ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
        ...(options.usageCount === undefined ? {} : { usageCount: options.usageCount }),
      }),
      'ticket',
    );
    return { code: reply.code, expiresAt: reply.expiresAt };
  }

  /** The members and their attributes. Enrollers only. */
  async members(): Promise<MemberInfo[]> {
    return [...this.expect(await this.ask({ type: 'list-members' }), 'members').members];
  }

  /** Closes the channel to the authority. */
  close(): Promise<void> {
    return this.channel.close();
  }

  private async ask(request: Record<string, unknown>): Promise<AuthorityReply> {
    const reply = await this.ctx.request(
      route(this.channel.address, this.service),
      { v: AUTHORITY_PROTOCOL_VERSION, ...request },
      { timeout: this.timeout },
    );
    const parsed = parseAuthorityReply(reply.body);
    if (parsed === undefined) throw new AuthorityError('BAD_REPLY', 'the authority answered something else');
    return parsed;
  }

  private expect<T extends AuthorityReply['type']>(
    reply: AuthorityReply,
    type: T,
  ): Extract<AuthorityReply, { type: T }> {
    if (reply.type === 'refused')
      throw new AuthorityError(reply.code, `the authority refused: ${reply.reason}`);
    if (reply.type !== type)
      throw new AuthorityError('BAD_REPLY', `expected a ${type} reply, got ${reply.type}`);
    return reply as Extract<AuthorityReply, { type: T }>;
  }
}
