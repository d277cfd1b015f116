import type { LocalInfo } from '../core/message';
import type { Route } from '../core/route';
import type { Logger } from '../node/logger';
import { InMemoryVault } from '../vault/in-memory-vault';
import type { Vault } from '../vault/vault';
import type { Entry, ForwarderTable } from './forwarder-table';
import type { ForwardingLimits } from './forwarding-limits';
import { NAMED_PREFIX, type RefusalCode, type RegisterRequest } from './forwarding-messages';
import { isRefusal, type RegistrationAdmission, type RegistrationRefusal } from './forwarding-options';
import { newToken, sameHash, type ChallengeBook } from './name-claims';

/** A registration that may go ahead: the slot it takes back (undefined: a new one), its token and owner. */
export interface Admitted {
  readonly entry: Entry | undefined;
  readonly token: string;
  readonly owner: string | undefined;
  /** Until when the admission hook admitted it (undefined: for good). */
  readonly admittedUntil?: number;
}

/**
 * Decides registrations, changing nothing: who may hold which name or address (token, identity proof),
 * within which limits, and what the admission hook says. The service then changes the table and starts
 * the forwarder.
 */
export class Registrar {
  constructor(
    private readonly table: ForwarderTable,
    private readonly limits: ForwardingLimits,
    private readonly challenges: ChallengeBook,
    private readonly admit: RegistrationAdmission | undefined,
    /** Made on the first identity claim: loading libsodium would slow every hub's start. */
    private vault: Vault | undefined,
    private readonly logger: Logger,
  ) {}

  /** What `request` (from `source`, to forward along `returnRoute`) may take, or why it may not. */
  async decide(
    request: RegisterRequest,
    returnRoute: Route,
    source: string,
    localInfo: LocalInfo,
  ): Promise<Admitted | RegistrationRefusal> {
    const { name } = request;
    let owner: string | undefined;
    if (request.claim !== undefined) {
      this.vault ??= await InMemoryVault.create();
      owner = this.challenges.verify(request.claim, name!, returnRoute, this.vault);
      if (owner === undefined)
        return refusal('BAD_PROOF', 'the identity proof does not verify for this challenge');
    }
    const checked = this.check(request, owner, returnRoute, source);
    if ('code' in checked) return checked;
    if (this.admit === undefined) return checked;
    const verdict = await Promise.resolve()
      .then(() => this.admit!({ request, name, owner, source, route: returnRoute, localInfo }))
      .catch((err: unknown) => {
        this.logger.warn({ err }, 'the registration admission hook threw');
        return refusal('INVALID_REQUEST', 'the registration was not admitted');
      });
    if (isRefusal(verdict)) return verdict;
    return { ...checked, admittedUntil: verdict?.admittedUntil };
  }

  /**
   * The name or address and limits part of `decide`, synchronous: the service runs it again just before it
   * changes the table, since other registrations may have changed it while an admission hook was awaited.
   */
  check(
    request: RegisterRequest,
    owner: string | undefined,
    returnRoute: Route,
    source: string,
  ): Admitted | RegistrationRefusal {
    const found = this.find(request, owner);
    if ('code' in found) return found;
    const { entry, token } = found;
    const limit =
      entry === undefined
        ? this.limits.newSlot(returnRoute, source, owner)
        : this.limits.attach(entry, returnRoute, source, entry.owner !== undefined && entry.owner === owner);
    if (limit !== undefined) return refusal('LIMIT_REACHED', limit);
    return { entry, token, owner };
  }

  /**
   * The slot a registration takes back (undefined: a new one) and its token, or why it may not: a name
   * bound to another identity, or held by another token. An unknown address or a wrong token for a random
   * address gets a new address, revealing nothing about the old one.
   */
  private find(
    request: RegisterRequest,
    owner: string | undefined,
  ): { entry: Entry | undefined; token: string } | RegistrationRefusal {
    const { name } = request;
    if (name === undefined) {
      const previous = request.address === undefined ? undefined : this.table.lookup(request.address);
      if (previous !== undefined && sameHash(previous.tokenHash, request.token))
        return { entry: previous, token: request.token! };
      return { entry: undefined, token: newToken() };
    }
    const entry = this.table.lookup(NAMED_PREFIX + name);
    if (entry === undefined) return { entry, token: newToken() };
    if (entry.owner !== undefined) {
      if (owner !== entry.owner)
        return refusal('NAME_TAKEN', `the name ${name} is bound to another identity`);
      return { entry, token: newToken() }; // the owner is back, perhaps as a new process: a new token
    }
    if (!sameHash(entry.tokenHash, request.token)) return refusal('NAME_TAKEN', `the name ${name} is taken`);
    if (owner !== undefined) {
      // The holder of an unbound name binds it to its identity.
      const limit = this.limits.bind(owner);
      if (limit !== undefined) return refusal('LIMIT_REACHED', limit);
    }
    return { entry, token: request.token! };
  }
}

function refusal(code: RefusalCode, reason: string): RegistrationRefusal {
  return { code, reason };
}
