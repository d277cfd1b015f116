import { decodeCredential, type Credential } from '../identity/credential';
import type { CredentialProvider } from '../identity/credential-provider';
import type { Logger } from '../node/logger';

/** What `MemberCredentials.start` may be told. */
export interface MemberCredentialsOptions {
  /**
   * Fetches a fresh credential (typically `() => client.credential()`, or one that reconnects to the
   * authority first). Called at start and whenever a renewal is due.
   */
  readonly fetch: () => Promise<Uint8Array>;
  /** A credential already at hand (say, from enrolling): used first, and renewed like any other. */
  readonly initial?: Uint8Array;
  /** The share of a credential's lifetime after which it is renewed. Default 0.5 (halfway). */
  readonly renewAt?: number;
  /** How long to wait before trying again after a failed renewal, in ms. Default 5 s (less near expiry). */
  readonly retryMs?: number;
  readonly logger?: Logger;
}

/**
 * This identity's credential from an authority, renewed before it expires: a `CredentialProvider` for
 * secure channels, which present it in their handshakes and send the renewed one over every open channel
 * (a refresh frame) so that access based on it goes on without a new handshake.
 */
export class MemberCredentials implements CredentialProvider {
  private credential: Credential;
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(
    initial: Uint8Array,
    private readonly options: MemberCredentialsOptions,
  ) {
    this.credential = decodeCredential(initial);
  }

  /** Fetches (unless `initial` is given) the first credential, and schedules its renewal. */
  static async start(options: MemberCredentialsOptions): Promise<MemberCredentials> {
    const member = new MemberCredentials(options.initial ?? (await options.fetch()), options);
    member.schedule();
    return member;
  }

  /** The credential to present now. */
  current(): readonly Uint8Array[] {
    return [this.credential.encoded];
  }

  /** When the current credential expires (ms since the epoch). */
  get expiresAt(): number {
    return this.credential.expiresAt;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Fetches a new credential now; listeners are told. */
  async renew(): Promise<void> {
    const fresh = decodeCredential(await this.options.fetch());
    if (this.stopped) return;
    this.credential = fresh;
    for (const listener of [...this.listeners]) listener();
    this.schedule();
  }

  /** Stops renewing. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    const { issuedAt, expiresAt } = this.credential;
    const due = issuedAt + (expiresAt - issuedAt) * (this.options.renewAt ?? 0.5);
    this.timer = setTimeout(() => this.attempt(), Math.max(0, due - Date.now()));
    this.timer.unref();
  }

  private attempt(): void {
    this.renew().catch((err: unknown) => {
      if (this.stopped) return;
      this.options.logger?.warn({ err }, 'cannot renew the credential; trying again');
      const left = this.credential.expiresAt - Date.now();
      const retry = Math.max(50, Math.min(this.options.retryMs ?? 5_000, left / 4));
      this.timer = setTimeout(() => this.attempt(), retry);
      this.timer.unref();
    });
  }
}
