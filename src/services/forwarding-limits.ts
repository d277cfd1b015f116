import { isIP } from 'node:net';
import type { Address } from '../core/address';
import { TRANSPORT_INFO, type LocalInfo } from '../core/message';
import type { Route } from '../core/route';
import type { Entry, ForwarderTable } from './forwarder-table';
import type { ForwardingSettings } from './forwarding-options';

/**
 * Who a request counts against: the remote IP of the connection it came by (an IPv6 address by its /64),
 * or, for a request that did not come straight from a transport, its first hop.
 */
export function sourceOf(localInfo: LocalInfo, firstHop: Address): string {
  const remote = (localInfo[TRANSPORT_INFO] as { remote?: unknown } | undefined)?.remote;
  if (typeof remote !== 'string') return `hop:${firstHop.value}`;
  let host = remote.slice(0, Math.max(0, remote.lastIndexOf(':')));
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped !== null) return mapped[1]!;
  if (isIP(host) !== 6) return host;
  const [left = '', right] = host.toLowerCase().split('::');
  const head = left === '' ? [] : left.split(':');
  const tail = right === undefined || right === '' ? [] : right.split(':');
  const groups = [...head, ...Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * The caps of a forwarding service over its table: each check returns the reason a registration is
 * refused (`LIMIT_REACHED`), or undefined. Expired reservations free their slots, so a check that would
 * refuse sweeps the table and checks again.
 */
export class ForwardingLimits {
  constructor(
    private readonly table: ForwarderTable,
    private readonly o: ForwardingSettings,
  ) {}

  /** May a new slot be made for `owner` (undefined: unbound), from `source`, along `route`? */
  newSlot(route: Route, source: string, owner: string | undefined): string | undefined {
    const t = this.table;
    const o = this.o;
    const check = (): string | undefined => {
      // Counting live bound forwarders costs a pass over the live ones: only near the limit.
      const nearLimit = t.unboundCount + t.liveCount >= o.maxForwarders;
      if (owner === undefined && nearLimit && t.unboundCount + t.liveBound() >= o.maxForwarders) {
        return `the hub holds its maximum of ${o.maxForwarders} forwarders and reservations`;
      }
      if (owner !== undefined) {
        const refusal = this.bind(owner);
        if (refusal !== undefined) return refusal;
        if (t.liveCount >= o.maxForwarders)
          return `the hub holds its maximum of ${o.maxForwarders} forwarders`;
      }
      if ((t.bySource.get(source) ?? 0) >= o.maxForwardersPerSource) {
        return `this source (${source}) holds its maximum of ${o.maxForwardersPerSource} forwarders and names`;
      }
      return this.connection(route);
    };
    return this.orAfterSweep(check);
  }

  /** May one more name be bound to `owner`? */
  bind(owner: string): string | undefined {
    if ((this.table.byOwner.get(owner) ?? 0) >= this.o.maxNamesPerIdentity) {
      return `this identity holds its maximum of ${this.o.maxNamesPerIdentity} names`;
    }
    if (this.table.boundCount >= this.o.maxBoundNames) {
      return `the hub holds its maximum of ${this.o.maxBoundNames} bound names`;
    }
    return undefined;
  }

  /** May the holder of `entry` take it back from `source` along `route`? */
  attach(entry: Entry, route: Route, source: string, bypassSource: boolean): string | undefined {
    const t = this.table;
    const o = this.o;
    const check = (): string | undefined => {
      if (!entry.live && t.liveCount >= o.maxForwarders) {
        return `the hub holds its maximum of ${o.maxForwarders} forwarders`;
      }
      if (!bypassSource && entry.source !== source) {
        if ((t.bySource.get(source) ?? 0) >= o.maxForwardersPerSource) {
          return `this source (${source}) holds its maximum of ${o.maxForwardersPerSource} forwarders and names`;
        }
      }
      if (entry.live && entry.route.next!.equals(route.next!)) return undefined;
      return this.connection(route);
    };
    return this.orAfterSweep(check);
  }

  private connection(route: Route): string | undefined {
    const sharing = this.table.sharing(route.next!)?.size ?? 0;
    if (sharing >= this.o.maxForwardersPerConnection) {
      return `this connection holds its maximum of ${this.o.maxForwardersPerConnection} forwarders`;
    }
    return undefined;
  }

  private orAfterSweep(check: () => string | undefined): string | undefined {
    if (check() === undefined) return undefined;
    this.table.sweep();
    return check();
  }
}
