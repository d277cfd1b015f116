import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { checkAttributes } from '../identity/credential';
import type { Logger } from '../node/logger';
import { TICKET_CODE } from './authority-messages';
import { ENROLLER_ATTRIBUTE, Refusal, type AuthoritySettings, type TicketOptions } from './authority-options';
import type { TicketRecord } from './authority-state';

/** The window over which failed enrollments of one identity are counted. */
const FAILURE_WINDOW_MS = 60_000;
/** Identities whose failures are remembered at most (expired windows are swept beyond it). */
const MAX_FAILURE_ENTRIES = 10_000;

/**
 * An authority's outstanding enrollment tickets, and who failed to redeem one lately. A ticket is a 64-bit
 * id and a 128-bit secret from the system's CSPRNG; only the secret's SHA-256 is kept, compared in constant
 * time whether or not the id exists. It decides; the authority persists and answers.
 */
export class TicketBook {
  private readonly tickets = new Map<string, TicketRecord>();
  private readonly failures = new Map<string, { windowStart: number; count: number }>();

  constructor(
    records: readonly TicketRecord[],
    private readonly settings: AuthoritySettings,
  ) {
    for (const ticket of records) this.tickets.set(ticket.id, ticket);
  }

  /** Tickets kept (unexpired, or not yet swept). */
  get size(): number {
    return this.tickets.size;
  }

  /** Every ticket kept, to persist. */
  list(): TicketRecord[] {
    return [...this.tickets.values()];
  }

  /**
   * Makes a ticket for `creator`: the record is kept, the code (`<id>.<secret>`) returned once. Refuses
   * (`INVALID_REQUEST`, `LIMIT_REACHED`) options out of bounds, a ticket granting `enroller`, a full book.
   */
  create(creator: string, options: TicketOptions, now = Date.now()): { record: TicketRecord; code: string } {
    const attributes = checkAttributes(options.attributes ?? {});
    if (attributes[ENROLLER_ATTRIBUTE] !== undefined) {
      throw new Refusal(
        'INVALID_REQUEST',
        `a ticket cannot grant ${ENROLLER_ATTRIBUTE} (add enrollers as members)`,
      );
    }
    const ttlMs = options.ttlMs ?? this.settings.ticketTtlMs;
    const usageCount = options.usageCount ?? 1;
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0 || ttlMs > this.settings.maxTicketTtlMs) {
      throw new Refusal('INVALID_REQUEST', `ttlMs must be in 1..${this.settings.maxTicketTtlMs}`);
    }
    if (!Number.isSafeInteger(usageCount) || usageCount <= 0 || usageCount > this.settings.maxTicketUses) {
      throw new Refusal('INVALID_REQUEST', `usageCount must be in 1..${this.settings.maxTicketUses}`);
    }
    if (this.tickets.size >= this.settings.maxTickets) this.sweep(now);
    if (this.tickets.size >= this.settings.maxTickets) {
      throw new Refusal('LIMIT_REACHED', 'the authority holds as many tickets as it allows');
    }
    const id = randomBytes(8).toString('hex');
    const secret = randomBytes(16).toString('hex');
    const record: TicketRecord = {
      id,
      secretHash: createHash('sha256').update(secret).digest('hex'),
      attributes,
      expiresAt: now + ttlMs,
      usesLeft: usageCount,
      createdBy: creator,
    };
    this.tickets.set(id, record);
    return { record, code: `${id}.${secret}` };
  }

  /**
   * The ticket `code` names, if `requester` may enroll with it now: refuses (and logs, with the ticket id,
   * never the secret) an identity with too many recent failures (`LIMIT_REACHED`), an unknown id or wrong
   * secret alike (`BAD_TICKET`), an expired ticket (`TICKET_EXPIRED`), a used-up one (`TICKET_USED`). It
   * does not use the ticket up: `use` does, once the enrollment can go ahead.
   */
  redeem(requester: string, code: string, logger: Logger, now = Date.now()): TicketRecord {
    const failures = this.failures.get(requester);
    if (
      failures !== undefined &&
      now - failures.windowStart < FAILURE_WINDOW_MS &&
      failures.count >= this.settings.maxFailedEnrollmentsPerMinute
    ) {
      throw new Refusal('LIMIT_REACHED', 'too many failed enrollments from this identity; wait a minute');
    }
    const failed = (refusal: Refusal, ticketId?: string): Refusal => {
      const entry = this.failures.get(requester);
      if (entry === undefined || now - entry.windowStart >= FAILURE_WINDOW_MS) {
        if (this.failures.size >= MAX_FAILURE_ENTRIES) this.sweepFailures(now);
        this.failures.set(requester, { windowStart: now, count: 1 });
      } else entry.count++;
      logger.warn({ requester, ticket: ticketId, code: refusal.code }, 'enrollment refused');
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
    return ticket;
  }

  /** Counts one use of `ticket` (kept until it expires, so that a further use is told `TICKET_USED`). */
  use(ticket: TicketRecord): void {
    this.tickets.set(ticket.id, { ...ticket, usesLeft: ticket.usesLeft - 1 });
  }

  /** Forgets expired tickets. */
  sweep(now = Date.now()): void {
    for (const [id, ticket] of this.tickets) if (ticket.expiresAt <= now) this.tickets.delete(id);
  }

  private sweepFailures(now: number): void {
    for (const [id, entry] of this.failures) {
      if (now - entry.windowStart >= FAILURE_WINDOW_MS) this.failures.delete(id);
    }
  }
}
