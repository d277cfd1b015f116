import { LOCAL, type Address, type AddressType } from '../core/address';
import type { LocalMessage } from '../core/message';
import type { DeadLetters } from './dead-letters';
import { NodeError } from './errors';

/** Anything registered at a local address: a worker's mailbox, a context's inbox, a pending reply. */
export interface Deliverable {
  /** Accepts a message: undefined when it was taken at once, a promise while the sender must wait. */
  deliver(message: LocalMessage): Promise<void> | undefined;
}

/**
 * Maps addresses to what receives their messages. Local addresses map to a `Deliverable`; every other
 * address type maps to the local address of the worker that routes that type (a transport), so a route may
 * hold transport hops anywhere.
 */
export class Router {
  private readonly local = new Map<string, Deliverable>();
  private readonly typeRouters = new Map<AddressType, Address>();

  constructor(private readonly deadLetters: DeadLetters) {}

  register(address: Address, target: Deliverable): void {
    if (!address.isLocal) {
      throw new NodeError('ADDRESS_IN_USE', `only local addresses can be registered, got ${address.key}`);
    }
    if (this.local.has(address.key))
      throw new NodeError('ADDRESS_IN_USE', `address ${address.key} is in use`);
    this.local.set(address.key, target);
  }

  /**
   * Registers an address known to be fresh (from `Address.unique`), skipping the in-use check: one hash
   * lookup less on every request.
   */
  registerUnique(address: Address, target: Deliverable): void {
    this.local.set(address.key, target);
  }

  /** Removes an address if it still maps to `target` (when given). */
  unregister(address: Address, target?: Deliverable): void {
    if (target === undefined || this.local.get(address.key) === target) this.local.delete(address.key);
  }

  isRegistered(address: Address): boolean {
    return this.local.has(address.key);
  }

  /** Makes the worker at `routerAddress` receive every message whose next hop is of `type`. */
  registerTypeRouter(type: AddressType, routerAddress: Address): void {
    if (type === LOCAL)
      throw new NodeError('ADDRESS_IN_USE', 'LOCAL addresses are routed by the node itself');
    if (this.typeRouters.has(type)) {
      throw new NodeError('ADDRESS_IN_USE', `address type ${type} already has a router`);
    }
    this.typeRouters.set(type, routerAddress);
  }

  unregisterTypeRouter(type: AddressType, routerAddress: Address): void {
    if (this.typeRouters.get(type)?.key === routerAddress.key) this.typeRouters.delete(type);
  }

  /** Hands a message to whatever its next hop maps to; unknown hops become dead letters. */
  deliver(message: LocalMessage): Promise<void> | undefined {
    const next = message.onwardRoute.next;
    if (next === undefined) {
      this.deadLetters.record('no-route', 'the onward route is empty', message);
      return undefined;
    }
    let target: Deliverable | undefined;
    if (next.type === LOCAL) {
      target = this.local.get(next.key);
    } else {
      const routerAddress = this.typeRouters.get(next.type);
      target = routerAddress === undefined ? undefined : this.local.get(routerAddress.key);
    }
    if (target === undefined) {
      this.deadLetters.record('no-route', `nothing is registered at ${next.key}`, message);
      return undefined;
    }
    return target.deliver(message);
  }
}
