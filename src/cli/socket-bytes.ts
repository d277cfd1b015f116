/**
 * TCP bytes in and out of this process, for the `tcp` transport's metrics. The transport does not count
 * bytes itself; Node's `net.client.socket` and `net.server.socket` diagnostics channels announce every TCP
 * socket the process makes or accepts, and a socket knows its `bytesRead` and `bytesWritten`. A command runs
 * one node per process, so the process's TCP sockets are the node's, less those `skip` names (the metrics
 * endpoint's own) and Unix sockets (the control socket).
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import type { TransportBytes } from '../index';

/** Starts counting; returns the reader and a function that stops counting. */
export function countTcpBytes(skip: (socket: Socket) => boolean): {
  read: () => TransportBytes;
  stop: () => void;
} {
  const live = new Set<Socket>();
  let closedIn = 0;
  let closedOut = 0;
  const track = (socket: Socket): void => {
    live.add(socket);
    socket.once('close', () => {
      live.delete(socket);
      closedIn += socket.bytesRead;
      closedOut += socket.bytesWritten;
    });
  };
  const onClient = (message: unknown): void => track((message as { socket: Socket }).socket);
  const onServer = (message: unknown): void => {
    const socket = (message as { socket: Socket }).socket;
    // An accepted Unix socket has no remote address; the metrics endpoint's sockets are skipped by port.
    if (socket.remoteAddress === undefined || skip(socket)) return;
    track(socket);
  };
  subscribe('net.client.socket', onClient);
  subscribe('net.server.socket', onServer);
  return {
    read: () => {
      let bytesIn = closedIn;
      let bytesOut = closedOut;
      for (const socket of live) {
        bytesIn += socket.bytesRead;
        bytesOut += socket.bytesWritten;
      }
      return { in: bytesIn, out: bytesOut };
    },
    stop: () => {
      unsubscribe('net.client.socket', onClient);
      unsubscribe('net.server.socket', onServer);
    },
  };
}
