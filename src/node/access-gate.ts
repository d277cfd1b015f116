import { cameFromTransport, type LocalMessage } from '../core/message';
import type { DropReason } from './dead-letters';
import type { AccessRule, WorkerOptions } from './worker';

/** How a gate records a message it refuses (a dead letter of `reason`, saying why). */
export type Refuse = (message: LocalMessage, reason: DropReason, detail: string) => void;

const NO_RULES: readonly AccessRule[] = [];

/**
 * What a message must pass before a worker's handler sees it, in order: the transport-origin check (unless
 * the worker accepts transport messages), the worker's access rules, then its codec. A refusal is recorded
 * through `refuse` and the message goes no further. Rules may answer asynchronously: `check` then returns a
 * promise, and the worker takes no other message until it settles.
 */
export class AccessGate {
  private readonly rules: readonly AccessRule[];
  private readonly acceptsTransport: boolean;

  constructor(
    /** The worker's address, for refusal details. */
    private readonly owner: string,
    private readonly options: WorkerOptions,
    private readonly refuse: Refuse,
  ) {
    const access = options.access;
    this.rules = access === undefined ? NO_RULES : Array.isArray(access) ? access : [access as AccessRule];
    this.acceptsTransport = options.acceptsTransportMessages ?? false;
  }

  /** True if `message` may be handled, false if it was refused, or a promise of one of those. */
  check(message: LocalMessage): boolean | Promise<boolean> {
    if (!this.acceptsTransport && cameFromTransport(message)) {
      return this.deny(message, 'transport-origin', 'it arrived from a transport connection');
    }
    return this.checkRules(message, 0);
  }

  private checkRules(message: LocalMessage, from: number): boolean | Promise<boolean> {
    for (let i = from; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      let verdict: boolean | string | Promise<boolean | string>;
      try {
        verdict = rule.check(message);
      } catch (err) {
        verdict = `the rule threw: ${String(err)}`;
      }
      if (verdict === true) continue;
      if (typeof verdict !== 'object') return this.deny(message, rule.name, verdict);
      // An asynchronous rule: the rest of the gate waits for it. A rejected check is a refusal, like a
      // throwing one: the message is dead-lettered, not lost.
      return verdict.then(
        (answer) =>
          answer === true ? this.checkRules(message, i + 1) : this.deny(message, rule.name, answer),
        (err: unknown) => this.deny(message, rule.name, `the rule threw: ${String(err)}`),
      );
    }
    return this.acceptsBody(message);
  }

  /**
   * Whether the declared codec accepts the body. A guard that throws (say, on a null body from a peer)
   * refuses it: the throw would otherwise escape the scheduler and end the process.
   */
  private acceptsBody(message: LocalMessage): boolean {
    const codec = this.options.message;
    if (codec === undefined) return true;
    let accepted: boolean;
    try {
      accepted = codec.accepts(message.body);
    } catch {
      accepted = false;
    }
    if (!accepted) this.refuse(message, 'wrong-body-type', `${this.owner} accepts ${codec.name} bodies only`);
    return accepted;
  }

  private deny(message: LocalMessage, rule: string, verdict: false | string): false {
    const reason = typeof verdict === 'string' ? verdict : 'refused';
    this.refuse(message, 'access-denied', `${this.owner} refused a message (${rule}): ${reason}`);
    return false;
  }
}
