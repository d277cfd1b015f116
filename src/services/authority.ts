import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Address } from '../core/address';
import type { Routed } from '../core/message';
import { integerOption } from '../core/options';
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
  TICKET_CODE,
  parseAuthorityRequest,
  type AuthorityRefusalCode,
  type AuthorityReply,
  type AuthorityRequest,
} from './authority-messages';
import {
  AuthorityStateFile,
  type AuthorityState,
  type MemberRecord,
  type TicketRecord,
} from './authority-state';

/** The attribute that makes a member an enroller (any value): it may add and remove members, make tickets. */
export const ENROLLER_ATTRIBUTE = 'enroller';

/** How an authority is started. */
export interface AuthorityOptions {
  /**
   * Where the member table and the outstanding tickets are kept (JSON, replaced atomically on every change,
   * locked by `<path>.lock`). Without it they live in memory only: for tests.
   */
  readonly statePath?: string;
  /** Identifiers made members with `enroller=true` at every start (the authority's administrators). */
  readonly enrollers?: readonly string[];
  /** How long the credentials it issues are valid, in ms. Default one hour. */
  readonly credentialTtlMs?: number;
  /** How long a ticket is valid when its creator does not say, in ms. Default 10 minutes. */
  readonly ticketTtlMs?: number;
  /** The longest validity a ticket may ask for, in ms. Default 7 days. */
  readonly maxTicketTtlMs?: number;
  /** The most uses a ticket may allow. Default 1,000. */
  readonly maxTicketUses?: number;
  /** Members at most. Default 100,000. */
  readonly maxMembers?: number;
  /** Outstanding (unexpired) tickets at most. Default 10,000. */
  readonly maxTickets?: number;
  /**
   * Failed enrollments one identity may make in a minute before its further attempts are refused without
   * being checked (`LIMIT_REACHED`). Default 10. Guessing a 128-bit secret is hopeless anyway; the bound
   * keeps a guesser from filling the log and the CPU.
   */
  readonly maxFailedEnrollmentsPerMinute?: number;
}

/** The defaults of `AuthorityOptions`. */
export const AUTHORITY_DEFAULTS = Object.freeze({
  credentialTtlMs: 3_600_000,
  ticketTtlMs: 600_000,
  maxTicketTtlMs: 7 * 24 * 3_600_000,
  maxTicketUses: 1_000,
  maxMembers: 100_000,
  maxTickets: 10_000,
  maxFailedEnrollmentsPerMinute: 10,
});

/** Counters of an authority. */
export interface AuthorityStats {
  readonly members: number;
  readonly tickets: number;
  readonly credentialsIssued: number;
  readonly enrollments: number;
  /** Refused requests by code (a bad, used or expired ticket among them). */
  readonly refused: Readonly<Record<AuthorityRefusalCode, number>>;
}

/** What `createTicket` may be told. */
export interface TicketOptions {
  /** Attributes the member gets (not `enroller`: a ticket is a string that can leak). */
  readonly attributes?: Readonly<Record<string, string>>;
  /** How long it may be used, in ms (default `AuthorityOptions.ticketTtlMs`). */
  readonly ttlMs?: number;
  /** How many identities may enroll with it (default 1). */
  readonly usageCount?: number;
}

/** A ticket just made: the code to hand to the new member (shown once, never stored), and its expiry. */
export interface NewTicket {
  readonly code: string;
  readonly expiresAt: number;
}

class Refusal extends Error {
  constructor(
    readonly code: AuthorityRefusalCode,
    readonly reason: string,
  ) {
    super(reason);
  }
}

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
  private readonly options: { -readonly [K in keyof typeof AUTHORITY_DEFAULTS]: number };
  private readonly members = new Map<string, MemberRecord>();
  private readonly tickets = new Map<string, TicketRecord>();
  private readonly failures = new Map<string, { windowStart: number; count: number }>();
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
    const fail = (message: string) => new AuthorityError('INVALID_OPTIONS', `AuthorityOptions.${message}`);
    const day = 24 * 3_600_000;
    this.options = {
      credentialTtlMs: integerOption(
        'credentialTtlMs',
        options.credentialTtlMs,
        AUTHORITY_DEFAULTS.credentialTtlMs,
        { min: 1, max: 365 * day },
        fail,
      ),
      ticketTtlMs: integerOption(
        'ticketTtlMs',
        options.ticketTtlMs,
        AUTHORITY_DEFAULTS.ticketTtlMs,
        { min: 1, max: 365 * day },
        fail,
      ),
      maxTicketTtlMs: integerOption(
        'maxTicketTtlMs',
        options.maxTicketTtlMs,
        AUTHORITY_DEFAULTS.maxTicketTtlMs,
        { min: 1, max: 365 * day },
        fail,
      ),
      maxTicketUses: integerOption(
        'maxTicketUses',
        options.maxTicketUses,
        AUTHORITY_DEFAULTS.maxTicketUses,
        { min: 1, max: 1e6 },
        fail,
      ),
      maxMembers: integerOption(
        'maxMembers',
        options.maxMembers,
        AUTHORITY_DEFAULTS.maxMembers,
        { min: 1, max: 1e7 },
        fail,
      ),
      maxTickets: integerOption(
        'maxTickets',
        options.maxTickets,
        AUTHORITY_DEFAULTS.maxTickets,
        { min: 1, max: 1e7 },
        fail,
      ),
      maxFailedEnrollmentsPerMinute: integerOption(
        'maxFailedEnrollmentsPerMinute',
        options.maxFailedEnrollmentsPerMinute,
        AUTHORITY_DEFAULTS.maxFailedEnrollmentsPerMinute,
        { min: 1, max: 1e6 },
        fail,
      ),
    };
    for (const member of state.members) this.members.set(member.identifier, member);
    for (const ticket of state.tickets) this.tickets.set(ticket.id, ticket);
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
    const now = Date.now();
    const failures = this.failures.get(requester);
    if (
      failures !== undefined &&
      now - failures.windowStart < 60_000 &&
      failures.count >= this.options.maxFailedEnrollmentsPerMinute
    ) {
      throw new Refusal('LIMIT_REACHED', 'too many failed enrollments from this identity; wait a minute');
    }
    const failed = (refusal: Refusal, ticketId?: string): Refusal => {
      const entry = this.failures.get(requester);
      if (entry === undefined || now - entry.windowStart >= 60_000) {
        if (this.failures.size >= 10_000) this.sweepFailures(now);
        this.failures.set(requester, { windowStart: now, count: 1 });
      } else entry.count++;
      this.logger.warn({ requester, ticket: ticketId, code: refusal.code }, 'enrollment refused');
      return refusal;
    };
    const match = TICKET_CODE.exec(code);
    const ticket = match === null ? undefined : this.tickets.get(match[1]!);
    // The secret is compared (in constant time) whether or not the id exists, so that an unknown id and a
    // wrong secret take the same time and get the same answer.
    const presented = createHash('sha256')
      .update(match?.[2] ?? '')
      .digest();
    const stored = Buffer.from(ticket?.secretHash ?? '0'.repeat(64), 'hex');
    if (!timingSafeEqual(presented, stored) || ticket === undefined) {
      throw failed(new Refusal('BAD_TICKET', 'no such ticket'), match?.[1]);
    }
    if (ticket.expiresAt <= now)
      throw failed(new Refusal('TICKET_EXPIRED', 'the ticket has expired'), ticket.id);
    if (ticket.usesLeft <= 0)
      throw failed(new Refusal('TICKET_USED', 'the ticket was already used'), ticket.id);
    if (!this.members.has(requester) && this.members.size >= this.options.maxMembers) {
      throw new Refusal('LIMIT_REACHED', 'the authority has as many members as it allows');
    }
    this.tickets.set(ticket.id, { ...ticket, usesLeft: ticket.usesLeft - 1 });
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
    const attributes = checkAttributes(options.attributes ?? {});
    if (attributes[ENROLLER_ATTRIBUTE] !== undefined) {
      throw new Refusal(
        'INVALID_REQUEST',
        `a ticket cannot grant ${ENROLLER_ATTRIBUTE} (add enrollers as members)`,
      );
    }
    const ttlMs = options.ttlMs ?? this.options.ticketTtlMs;
    const usageCount = options.usageCount ?? 1;
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > this.options.maxTicketTtlMs) {
      throw new Refusal('INVALID_REQUEST', `ttlMs must be in 1..${this.options.maxTicketTtlMs}`);
    }
    if (!Number.isSafeInteger(usageCount) || usageCount <= 0 || usageCount > this.options.maxTicketUses) {
      throw new Refusal('INVALID_REQUEST', `usageCount must be in 1..${this.options.maxTicketUses}`);
    }
    const now = Date.now();
    if (this.tickets.size >= this.options.maxTickets) this.sweepTickets(now);
    if (this.tickets.size >= this.options.maxTickets) {
      throw new Refusal('LIMIT_REACHED', 'the authority holds as many tickets as it allows');
    }
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(16).toString('hex');
    const expiresAt = now + ttlMs;
    this.tickets.set(id, {
      id,
      secretHash: createHash('sha256').update(secret).digest('hex'),
      attributes,
      expiresAt,
      usesLeft: usageCount,
      createdBy: creator,
    });
    await this.persist();
    this.logger.info(
      { ticket: id, by: creator, attributes, expiresAt, usageCount },
      'enrollment ticket created',
    );
    return { code: `${id}.${secret}`, expiresAt };
  }

  private sweepTickets(now: number): void {
    for (const [id, ticket] of this.tickets) if (ticket.expiresAt <= now) this.tickets.delete(id);
  }

  private sweepFailures(now: number): void {
    for (const [id, entry] of this.failures) if (now - entry.windowStart >= 60_000) this.failures.delete(id);
  }

  /** Makes the table durable; a failure refuses the request (the in-memory change stays, and is retried). */
  private async persist(): Promise<void> {
    if (this.stateFile === undefined) return;
    const now = Date.now();
    this.sweepTickets(now);
    try {
      await this.stateFile.save(() => ({
        members: [...this.members.values()],
        tickets: [...this.tickets.values()],
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
