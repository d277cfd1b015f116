import { Address, type AddressType } from '../core/address';
import type { LocalMessage } from '../core/message';
import { Context } from './context';
import type { DropCause } from './dead-letters';
import type { Deadline, DeadlineCause } from './deadlines';
import type { Logger } from './logger';
import type { NodeRuntime } from './node-runtime';
import type { Deliverable } from './router';
import type { Worker, WorkerOptions } from './worker';

/**
 * What a node offers a transport, and all a transport may touch of it: route an address type, start the
 * workers of its connections, deliver what they receive, apply the node's flow controls on the way out,
 * record what it could not carry, and share the node's deadlines. A transport never sees the router, the
 * dead letters or the scheduler themselves, so TCP, WebSocket and a broker are peers behind one door.
 */
export interface TransportHost {
  readonly logger: Logger;
  /** True once the node is stopping: a transport makes no new connections then. */
  readonly isStopped: boolean;
  /**
   * Makes `router` receive every message whose next hop is of `type`; returns what undoes it. Throws
   * `NodeError` `ADDRESS_IN_USE` if the node already routes that type (one transport per type and node).
   */
  routeAddressType(type: AddressType, name: string, router: Deliverable): () => void;
  /** Starts a worker (a connection's) at `address`; see `NodeRuntime.startWorker`. */
  startWorker<T>(address: Address, worker: Worker<T>, options: WorkerOptions<T>): Promise<Context>;
  stopWorker(address: Address): Promise<void>;
  /**
   * Delivers a message received from a peer into the node: undefined when it was taken, a promise while
   * the target's mailbox is full (the connection stops reading until it settles).
   */
  deliver(message: LocalMessage): Promise<void> | undefined;
  /**
   * Hands a message already routed inside the node (its hop resolved to a connection) to its next hop, as
   * the router would: the transport's own routing step, not a new entry into the node.
   */
  forward(message: LocalMessage): Promise<void> | undefined;
  /**
   * Whether a message may leave the node through `exit` (a connection): a message from outside only where
   * a flow control allows it. A refusal is recorded (`access-denied`, naming `what`) and counted.
   */
  admit(message: LocalMessage, exit: Address, what: string): boolean;
  /** Lets replies to what `producer` sent come back the way `exit` leads (a relayed message's connection). */
  join(producer: Address, exit: Address): void;
  /** Records a message from outside refused for the node's relay policy (`access-denied`, counted). */
  refuse(message: LocalMessage, detail: string): void;
  /** Records a message the transport could not carry (`undeliverable`), with a precise code and cause. */
  undeliverable(message: LocalMessage, detail: string, cause?: DropCause): void;
  /**
   * Calls `fire('timeout')` after `ms` unless cancelled, on the node's shared deadlines: all of them fire
   * (`'flushed'`) when the node stops, so a stop never waits on a peer.
   */
  deadline(ms: number, fire: (cause: DeadlineCause) => void): Deadline;
}

/** The transport host of the node of `owner` (a context of it, or the node itself). */
export function transportHost(owner: Context | NodeRuntime): TransportHost {
  const node = owner instanceof Context ? owner.node : owner;
  return {
    logger: node.logger,
    get isStopped() {
      return node.isStopped;
    },
    routeAddressType(type, name, router) {
      // The router is registered at a local address of its own, as the type routers of the node are.
      const at = Address.unique(`${name}.router.`);
      node.router.register(at, router);
      try {
        node.registerTypeRouter(type, at);
      } catch (err) {
        node.router.unregister(at, router);
        throw err;
      }
      return () => {
        node.unregisterTypeRouter(type, at);
        node.router.unregister(at, router);
      };
    },
    startWorker: (address, worker, options) => node.startWorker(address, worker, options),
    stopWorker: (address) => node.stopWorker(address),
    deliver: (message) => node.deliver(message),
    forward: (message) => node.router.deliver(message),
    admit: (message, exit, what) => node.flowControls.admit(message, exit, what),
    join: (producer, exit) => node.flowControls.join(producer, exit),
    refuse(message, detail) {
      node.flowControls.stats.refused++;
      node.deadLetters.record('access-denied', detail, message);
    },
    undeliverable: (message, detail, cause) =>
      node.deadLetters.record('undeliverable', detail, message, cause),
    deadline: (ms, fire) => node.deadlines.add(ms, fire),
  };
}
