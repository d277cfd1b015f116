import type { Address } from '../core/address';
import type { Routed } from '../core/message';
import { remoteIdentifierOf } from '../channel/access';
import { checkAttributes, issueCredential, type Attributes } from '../identity/credential';
import type { Identity } from '../identity/identity';
import { parseIdentifier } from '../identity/identity';
import type { Context } from '../node/context';
import type { Logger } from '../node/logger';
import type { Worker } from '../node/worker';
import { ThrottledLog } from '../transport/throttled-log';
import { AuthorityError } from './authority-errors';
import {
  AUTHORITY_REFUSAL_CODES,
  parseAuthorityRequest,
  type AuthorityRefusalCode,
  type AuthorityReply,
  type AuthorityRequest,
} from './authority-messages';
import {
  ENROLLER_ATTRIBUTE,
  Refusal,
  authoritySettings,
  type AuthorityOptions,
  type AuthoritySettings,
  type AuthorityStats,
  type NewTicket,
  type TicketOptions,
} from './authority-options';
import { AuthorityStateFile, type AuthorityState, type MemberRecord } from './authority-state';
import { TicketBook } from './authority-tickets';

export {
  AUTHORITY_DEFAULTS,
  ENROLLER_ATTRIBUTE,
  type AuthorityOptions,
  type AuthorityStats,
  type NewTicket,
  type TicketOptions,
} from './authority-options';

/** Runs `fn`, turning a refusal into the `AuthorityError` of the same code (the operator's own calls). */
async function asError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof Refusal) throw new AuthorityError(error.code, error.reason);
    throw error;
  }
}

/**
 * An authority: an identity whose credentials say which attributes its members have. It runs as a worker
 * behind a secure channel listener (it learns who asks from the channel) and answers the authority
 * protocol (docs/PROTOCOL.md): a member asks for a credential; a new node enrolls with a one-time ticket
 * and becomes a member with the ticket's attributes; an enroller (a member with the `enroller` attribute)
 * adds and removes members and makes tickets. With `statePath` every change is on disk (atomically, fsync)
 * before it is answered, so a killed authority loses no member and no unused ticket.
 *
 * Tickets: a 64-bit id and a 128-bit secret from the system's CSPRNG; only the secret's SHA-256 is stored,
 * compared in constant time; a ticket is refused once used up or expired; every enrollment and every refused
 * ticket is logged and counted, and an identity with too many failed attempts in a minute is refused
 * without a check.
 */
export class AuthorityService implements Worker<unknown> {
  private readonly options: AuthoritySettings;
  private readonly members = new Map<string, MemberRecord>();
  private readonly tickets: TicketBook;
  private readonly counters = {
    credentialsIssued: 0,
    enrollments: 0,
    refused: Object.fromEntries(AUTHORITY_REFUSAL_CODES.map((code) => [code, 0])) as Record<
      AuthorityRefusalCode,
      number
    >,
  };
  private ctx!: Context;
  private logger!: Logger;
  private refusals!: ThrottledLog;

  private constructor(
    readonly identity: Identity,
    options: AuthorityOptions,
    private readonly stateFile: AuthorityStateFile | undefined,
    state: AuthorityState,
  ) {
    this.options = authoritySettings(options);
    this.tickets = new TicketBook(state.tickets, this.options);
    for (const member of state.members) this.members.set(member.identifier, member);
    for (const identifier of options.enrollers ?? []) {
      const existing = this.members.get(identifier);
      this.members.set(identifier, {
        identifier,
        attributes: checkAttributes({ ...existing?.attributes, [ENROLLER_ATTRIBUTE]: 'true' }),
        addedAt: existing?.addedAt ?? Date.now(),
        addedBy: existing?.addedBy ?? 'config',
      });
    }
  }

  /**
   * Starts an authority for `identity` at `address` (put a secure channel listener in front of it). With
   * `statePath`, reads the table first: rejects with `AuthorityError` `STATE_FILE` if it is locked by
   * another live authority, unreadable or malformed; `INVALID_OPTIONS` for an option out of range.
   */
  static async start(
    ctx: Context,
    identity: Identity,
    address: string | Address = 'authority',
    options: AuthorityOptions = {},
  ): Promise<AuthorityService> {
    for (const enroller of options.enrollers ?? []) {
      try {
        parseIdentifier(enroller);
      } catch (cause) {
        throw new AuthorityError(
          'INVALID_OPTIONS',
          'AuthorityOptions.enrollers holds a malformed identifier',
          { cause },
        );
      }
    }
    let file: AuthorityStateFile | undefined;
    let state: AuthorityState = { members: [], tickets: [] };
    if (options.statePath !== undefined) ({ file, state } = await AuthorityStateFile.open(options.statePath));
    let service: AuthorityService;
    try {
      service = new AuthorityService(identity, options, file, state);
      await ctx.startWorker(address, service, { acceptsTransportMessages: false });
      if (options.enrollers !== undefined && options.enrollers.length > 0) await service.persist();
    } catch (error) {
      await file?.close();
      throw error;
    }
    return service;
  }

  initialize(ctx: Context): void {
    this.ctx = ctx;
    this.logger = ctx.logger;
    this.refusals = new ThrottledLog(ctx.logger);
  }

  /** The service's address. */
  get address(): Address {
    return this.ctx.address;
  }

  /** The member table now (a copy). */
  listMembers(): MemberRecord[] {
    return [...this.members.values()];
  }

  stats(): AuthorityStats {
    return {
      members: this.members.size,
      tickets: this.tickets.size,
      credentialsIssued: this.counters.credentialsIssued,
      enrollments: this.counters.enrollments,
      refused: { ...this.counters.refused },
    };
  }

  /**
   * Makes a ticket on the authority's own behalf (its operator, say at start-up); enrollers make theirs
   * over a secure channel (`AuthorityClient.createTicket`). Resolves once the ticket is on disk.
   */
  async createTicket(options: TicketOptions = {}): Promise<NewTicket> {
    return asError(() => this.newTicket('authority', options));
  }

  /** Adds or updates a member on the authority's own behalf. Resolves once the change is on disk. */
  async addMember(identifier: string, attributes: Readonly<Record<string, string>> = {}): Promise<void> {
    await asError(async () => {
      this.putMember(parseIdentifier(identifier), checkAttributes(attributes), 'authority');
      await this.persist();
    });
  }

  async handleMessage(ctx: Context, message: Routed<unknown>): Promise<void> {
    if (message.returnRoute.isEmpty) return;
    const requester = remoteIdentifierOf(message);
    const request = parseAuthorityRequest(message.body);
    let reply: AuthorityReply;
    try {
      if (requester === undefined)
        throw new Refusal('NOT_MEMBER', 'requests come through a secure channel with an identity');
      if (typeof request === 'string') throw new Refusal('INVALID_REQUEST', request);
      reply = await this.answer(requester, request);
    } catch (error) {
      if (!(error instanceof Refusal)) throw error;
      this.counters.refused[error.code]++;
      this.refusals.warn(
        {
          code: error.code,
          reason: error.reason,
          requester,
          request: typeof request === 'string' ? undefined : request.type,
        },
        'authority refused a request',
      );
      reply = { v: 1, type: 'refused', code: error.code, reason: error.reason };
    }
    await ctx.send(message.returnRoute, reply);
  }

  async shutdown(): Promise<void> {
    this.refusals.flush();
    await this.stateFile?.close();
  }

  // --- requests ----------------------------------------------------------------------------------------

  private async answer(requester: string, request: AuthorityRequest): Promise<AuthorityReply> {
    switch (request.type) {
      case 'credential': {
        const member = this.members.get(requester);
        if (member === undefined) throw new Refusal('NOT_MEMBER', `${requester} is not a member`);
        return this.credentialFor(member);
      }
      case 'enroll':
        return this.enroll(requester, request.ticket);
      case 'add-member': {
        this.requireEnroller(requester);
        this.putMember(request.identifier, request.attributes, requester);
        await this.persist();
        this.logger.info(
          { member: request.identifier, by: requester, attributes: request.attributes },
          'member added',
        );
        return { v: 1, type: 'ok' };
      }
      case 'remove-member': {
        this.requireEnroller(requester);
        if (this.members.delete(request.identifier)) {
          await this.persist();
          this.logger.info({ member: request.identifier, by: requester }, 'member removed');
        }
        return { v: 1, type: 'ok' };
      }
      case 'create-ticket': {
        this.requireEnroller(requester);
        const ticket = await this.newTicket(requester, request);
        return { v: 1, type: 'ticket', ...ticket };
      }
      case 'list-members':
        this.requireEnroller(requester);
        return {
          v: 1,
          type: 'members',
          members: [...this.members.values()].map(({ identifier, attributes }) => ({
            identifier,
            attributes,
          })),
        };
    }
  }

  private async credentialFor(member: MemberRecord): Promise<AuthorityReply> {
    const credential = await issueCredential(
      this.identity,
      member.identifier,
      { ...member.attributes },
      {
        ttlMs: this.options.credentialTtlMs,
      },
    );
    this.counters.credentialsIssued++;
    return { v: 1, type: 'credential', credential };
  }

  private async enroll(requester: string, code: string): Promise<AuthorityReply> {
    const ticket = this.tickets.redeem(requester, code, this.logger);
    if (!this.members.has(requester) && this.members.size >= this.options.maxMembers) {
      throw new Refusal('LIMIT_REACHED', 'the authority has as many members as it allows');
    }
    this.tickets.use(ticket);
    const member = this.putMember(requester, ticket.attributes, `ticket:${ticket.id}`);
    await this.persist();
    this.counters.enrollments++;
    this.logger.info(
      { member: requester, ticket: ticket.id, attributes: ticket.attributes },
      'member enrolled with a ticket',
    );
    return this.credentialFor(member);
  }

  private requireEnroller(requester: string): void {
    const member = this.members.get(requester);
    if (member === undefined || member.attributes[ENROLLER_ATTRIBUTE] === undefined) {
      throw new Refusal('NOT_ENROLLER', `${requester} is not an enroller`);
    }
  }

  /** Adds or updates a member; enrolling again with a ticket adds the ticket's attributes to its own. */
  private putMember(identifier: string, attributes: Attributes, by: string): MemberRecord {
    const existing = this.members.get(identifier);
    if (existing === undefined && this.members.size >= this.options.maxMembers) {
      throw new Refusal('LIMIT_REACHED', 'the authority has as many members as it allows');
    }
    let merged: Attributes;
    try {
      merged = checkAttributes(
        by.startsWith('ticket:') ? { ...existing?.attributes, ...attributes } : attributes,
      );
    } catch (error) {
      throw new Refusal('INVALID_REQUEST', (error as Error).message);
    }
    const member = { identifier, attributes: merged, addedAt: existing?.addedAt ?? Date.now(), addedBy: by };
    this.members.set(identifier, member);
    return member;
  }

  private async newTicket(creator: string, options: TicketOptions): Promise<NewTicket> {
    const { record, code } = this.tickets.create(creator, options);
    await this.persist();
    const { id, attributes, expiresAt, usesLeft: usageCount } = record;
    this.logger.info(
      { ticket: id, by: creator, attributes, expiresAt, usageCount },
      'enrollment ticket created',
    );
    return { code, expiresAt };
  }

  /** Makes the table durable; a failure refuses the request (the in-memory change stays, and is retried). */
  private async persist(): Promise<void> {
    if (this.stateFile === undefined) return;
    const now = Date.now();
    this.tickets.sweep(now);
    try {
      await this.stateFile.save(() => ({
        members: [...this.members.values()],
        tickets: this.tickets.list(),
      }));
    } catch (cause) {
      this.logger.error({ err: cause }, 'cannot write the member table');
      throw new Refusal(
        'STORAGE_FAILED',
        'the change could not be made durable (it is retried with the next change)',
      );
    }
  }
}
