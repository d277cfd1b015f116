import { Address, LOCAL, addressTypeName, shortLivedRandomToken, type AddressType } from '../core/address';
import { ByteParts } from '../core/byte-parts';
import { NOTICE_MARKER } from '../core/delivery-failure';
import type { LocalMessage } from '../core/message';
import type { DeadLetters } from './dead-letters';
import { QUEUED, backpressure, untilQueued, type Delivery } from './delivery';
import { NodeError } from './errors';

/** Anything registered at a local address: a worker's mailbox, a context's inbox, a pending reply. */
export interface Recipient {
  /** Accepts a message, and says what became of it. */
  deliver(message: LocalMessage): Delivery;
  /** Takes a `ByteParts` body as it is (a stream connection); any other recipient gets it joined. */
  readonly takesByteParts?: boolean;
}

/**
 * The contract before `Delivery`: undefined when taken at once or dead-lettered, a promise while the sender
 * must wait. Transport routers (`TransportHost.routeAddressType`) still answer this way; see `dispatch`.
 */
export interface Deliverable {
  deliver(message: LocalMessage): Promise<void> | undefined;
  /** As `Recipient.takesByteParts`. */
  readonly takesByteParts?: boolean;
}

/**
 * Values of one-off reply addresses: this prefix, the slot number in base 36, a dot, then 96 random bits.
 * The slot number finds the slot; the random part, checked against the slot's own value, makes the address
 * unguessable (a counter alone would let anyone who saw one reply address answer the next request). The
 * leading `~` marks an address that takes delivery failure notices (see `NOTICE_MARKER`): a node that drops a
 * request tells it.
 */
const REPLY_PREFIX = NOTICE_MARKER + 'r.';
/** Cells of the router's table of recent reply addresses (a power of two). */
const REPLY_TABLE_SIZE = 256;

/**
 * A one-off reply address that carries its target with it. Hashing a fresh address string into the
 * router's map was the bulk of a local round trip's cost, so reply addresses skip it: a reply sent along the
 * very route object the request carried finds its slot through the object, and one that comes back decoded
 * from a wire (a new Address object) through the slot number in its value, an integer-keyed lookup.
 *
 * The value is drawn lazily (see `Address.text`): a request answered on its own node never reads it, and
 * drawing 96 CSPRNG bits was the largest cost left in a local round trip. The first read (a wire encoder,
 * a log line, a map key, `equals`) draws it, and from then on it is fixed; until then no value can reach
 * the slot from outside (`Router.replyTarget`), since none exists that anyone could have seen.
 */
export class ReplyAddress extends Address {
  target: Recipient | undefined;

  constructor(
    readonly slot: number,
    target: Recipient,
  ) {
    super(LOCAL, REPLY_PREFIX);
    this.text = undefined;
    this.target = target;
  }

  /** The value has been drawn: it may have left the node, so a message may come back to it. */
  get drawn(): boolean {
    return this.text !== undefined;
  }

  protected override draw(): string {
    return `${REPLY_PREFIX}${this.slot.toString(36)}.${shortLivedRandomToken()}`;
  }
}

/**
 * Maps addresses to what receives their messages. Local addresses map to a `Deliverable`; every other
 * address type maps to the local address of the worker that routes that type (a transport), so a route may
 * hold transport hops anywhere.
 */
export class Router {
  private readonly local = new Map<string, Recipient | Deliverable>();
  private readonly typeRouters = new Map<AddressType, Address>();
  /**
   * Pending reply addresses by slot number: in `recentReplies` at `slot % REPLY_TABLE_SIZE` while that cell
   * is free (sequential requests always find it so: an array store instead of a map's per request), else
   * in `replies`.
   */
  private readonly recentReplies = new Array<ReplyAddress | undefined>(REPLY_TABLE_SIZE).fill(undefined);
  private readonly replies = new Map<number, ReplyAddress>();
  /**
   * The local targets found last, by address value (see `RECENT_SLOTS`). An address decoded from a frame
   * is a new object whose `key` is a new string: looking it up in `local` flattened and hashed it, the most
   * a hub spent on routing a frame. Comparing the decoded value with a recent one (same length, a byte
   * compare) finds the connection or forwarder a run of frames goes to without it. Cleared whenever an
   * address is registered or unregistered, so it never outlives what it caches.
   */
  private readonly recent: (RecentTarget | undefined)[] = new Array<RecentTarget | undefined>(RECENT_SLOTS);

  constructor(private readonly deadLetters: DeadLetters) {}

  register(address: Address, target: Recipient | Deliverable): void {
    if (!address.isLocal) {
      throw new NodeError('INVALID_ADDRESS', `only local addresses can be registered, got ${address.key}`);
    }
    if (this.local.has(address.key))
      throw new NodeError('ADDRESS_IN_USE', `address ${address.key} is in use`);
    this.local.set(address.key, target);
    this.recent.fill(undefined);
  }

  /** Registers a reply address (see `ReplyAddress`). */
  registerReply(address: ReplyAddress): void {
    const cell = address.slot & (REPLY_TABLE_SIZE - 1);
    if (this.recentReplies[cell] === undefined) this.recentReplies[cell] = address;
    else this.replies.set(address.slot, address);
  }

  unregisterReply(address: ReplyAddress): void {
    address.target = undefined;
    const cell = address.slot & (REPLY_TABLE_SIZE - 1);
    if (this.recentReplies[cell] === address) this.recentReplies[cell] = undefined;
    else this.replies.delete(address.slot);
  }

  private pendingReply(slot: number): ReplyAddress | undefined {
    const recent = this.recentReplies[slot & (REPLY_TABLE_SIZE - 1)];
    return recent?.slot === slot ? recent : this.replies.get(slot);
  }

  /** Removes an address if it still maps to `target` (when given). */
  unregister(address: Address, target?: Recipient | Deliverable): void {
    if (target === undefined || this.local.get(address.key) === target) this.local.delete(address.key);
    this.recent.fill(undefined);
  }

  /** Makes the worker at `routerAddress` receive every message whose next hop is of `type`. */
  registerTypeRouter(type: AddressType, routerAddress: Address): void {
    if (type === LOCAL)
      throw new NodeError('INVALID_ADDRESS', 'LOCAL addresses are routed by the node itself');
    const existing = this.typeRouters.get(type);
    if (existing !== undefined) {
      // Almost always a transport created twice on one node: say that, not just which type number clashed.
      const name = addressTypeName(type) ?? `type ${type}`;
      throw new NodeError(
        'ADDRESS_IN_USE',
        `this node already has a ${name} transport (its router is ${existing.toString()}): create one ` +
          `transport per address type and node, and share it`,
      );
    }
    this.typeRouters.set(type, routerAddress);
  }

  unregisterTypeRouter(type: AddressType, routerAddress: Address): void {
    if (this.typeRouters.get(type)?.key === routerAddress.key) this.typeRouters.delete(type);
  }

  private replyTarget(value: string): Recipient | undefined {
    if (!value.startsWith(REPLY_PREFIX)) return undefined;
    const dot = value.indexOf('.', REPLY_PREFIX.length);
    if (dot < 0) return undefined;
    const slot = this.pendingReply(parseInt(value.slice(REPLY_PREFIX.length, dot), 36));
    // An undrawn slot has no value anyone could know: nothing from outside can match it (and asking its
    // value here would draw one for a guesser).
    return slot !== undefined && slot.drawn && slot.value === value ? slot.target : undefined;
  }

  /** What the local address `value` (whose key is `key`) maps to: a registered target or a reply slot. */
  private localTarget(value: string, key: string): Recipient | Deliverable | undefined {
    const slot = (value.length + value.charCodeAt(value.length - 1)) & (RECENT_SLOTS - 1);
    const recent = this.recent[slot];
    if (recent !== undefined && recent.value === value) return recent.target;
    const target = this.local.get(key);
    if (target === undefined) return this.replyTarget(value);
    this.recent[slot] = { value, target };
    return target;
  }

  /** Hands a message to whatever its next hop maps to, and says what became of it (unknown hops: refused). */
  dispatch(message: LocalMessage): Delivery {
    const next = message.onwardRoute.next;
    if (next === undefined) return this.deadLetters.record('no-route', 'the onward route is empty', message);
    let target: Recipient | Deliverable | undefined;
    if (next instanceof ReplyAddress) {
      target = next.target;
    } else if (next.type === LOCAL) {
      target = this.localTarget(next.value, next.key);
    } else {
      const routerAddress = this.typeRouters.get(next.type);
      target = routerAddress === undefined ? undefined : this.local.get(routerAddress.key);
    }
    if (target === undefined) {
      return this.deadLetters.record('no-route', `nothing is registered at ${next.key}`, message);
    }
    // Workers see bytes, never parts: a body made of parts stays so only on its way to a stream connection.
    if (message.body instanceof ByteParts && target.takesByteParts !== true) {
      message = message.withBody(message.body.join());
    }
    // A transport's router may still answer the old way (undefined: queued or dead-lettered). Until it
    // returns a `Delivery` (the Transport interface), a letter recorded during its call is its refusal.
    const before = this.deadLetters.last;
    const result: Delivery | Promise<void> | undefined = target.deliver(message);
    if (result === undefined) {
      const letter = this.deadLetters.last;
      return letter === before || letter === undefined ? QUEUED : { status: 'refused', letter };
    }
    return result instanceof Promise ? backpressure(result) : result;
  }

  /** `dispatch` in the old shape, for `TransportHost.forward` until transports take a `Delivery`. */
  deliver(message: LocalMessage): Promise<void> | undefined {
    return untilQueued(this.dispatch(message));
  }
}

/**
 * Slots of `Router.recent` (a power of two), picked by an address value's length and last character: a
 * node routes runs of frames to a few connections and forwarders at a time, and a collision only costs
 * the map lookup it would have made anyway.
 */
const RECENT_SLOTS = 16;

/** A local address value and what it was registered to. */
interface RecentTarget {
  readonly value: string;
  readonly target: Recipient | Deliverable;
}
