import { TransportError } from './errors';

/** Limits a listener enforces. */
export interface GateLimits {
  readonly maxConnections: number;
  readonly maxConnectionsPerRemote: number;
}

/** An admitted connection's place at a listener, given back once: when it closes, or when it is evicted. */
export interface Admission {
  /** The listener's gate that admitted it. */
  readonly gate: ConnectionGate;
  /** The remote host (IP address) it came from. */
  readonly ip: string;
  /** Gives the place back (idempotent). */
  release(): void;
}

/**
 * The door of a listener, whatever the stream (TCP, WebSocket): it admits connections up to a total and a
 * per-remote-host limit, counting each until it is released. At a limit it first makes room by asking its
 * transport to evict an unvouched connection (the oldest of the same remote, or of the remote holding the
 * most); only when every connection counted is vouched for is the newcomer refused, before any of its bytes
 * are read.
 */
export class ConnectionGate {
  private total = 0;
  private readonly perRemote = new Map<string, number>();

  constructor(
    private readonly limits: GateLimits,
    /** Evicts one unvouched connection this gate admitted, from `ip` or (undefined) the remote holding the most. */
    private readonly evictUnvouched: (gate: ConnectionGate, ip: string | undefined) => void,
  ) {}

  /** Connections currently admitted. */
  get connections(): number {
    return this.total;
  }

  /** Admits a connection from `ip`, or says why not (`LIMIT_REACHED`). */
  admit(ip: string): Admission | TransportError {
    if ((this.perRemote.get(ip) ?? 0) >= this.limits.maxConnectionsPerRemote) this.evictUnvouched(this, ip);
    if (this.total >= this.limits.maxConnections) this.evictUnvouched(this, undefined);
    const fromRemote = this.perRemote.get(ip) ?? 0;
    if (this.total >= this.limits.maxConnections) {
      return new TransportError(
        'LIMIT_REACHED',
        `the listener holds its maximum of ${this.limits.maxConnections} connections, all vouched for`,
      );
    }
    if (fromRemote >= this.limits.maxConnectionsPerRemote) {
      return new TransportError(
        'LIMIT_REACHED',
        `${ip} holds its maximum of ${this.limits.maxConnectionsPerRemote} connections, all vouched for`,
      );
    }
    this.total++;
    this.perRemote.set(ip, fromRemote + 1);
    let held = true;
    return {
      gate: this,
      ip,
      release: () => {
        if (!held) return;
        held = false;
        this.total--;
        const left = (this.perRemote.get(ip) ?? 1) - 1;
        if (left === 0) this.perRemote.delete(ip);
        else this.perRemote.set(ip, left);
      },
    };
  }
}
