/**
 * The local control socket of a running node: a Unix socket, mode 0600 in a 0700 directory, so that only
 * its owner (and root) can connect; it never listens on the network. One JSON request a line, one JSON
 * answer a line. Requests are bounded (64 KiB, 10 s to arrive, 16 clients at once): the owner is trusted,
 * but a stuck or buggy client must not hold the node.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { CliError } from './output';

/** A request to a running node. */
export type ControlRequest =
  | { readonly op: 'status' }
  | {
      readonly op: 'relay.create';
      /** One hub, or several of one federation to fail over among (with `name`). */
      readonly hubs: readonly string[];
      readonly name?: string;
      readonly to?: string;
    }
  | { readonly op: 'secure-channel.create'; readonly to: string }
  | {
      readonly op: 'tcp-outlet.create';
      readonly address: string;
      readonly target: string;
      readonly access: 'any-identity' | readonly string[];
    }
  | { readonly op: 'tcp-inlet.create'; readonly listen: string; readonly to: string };

/** What a request's handler answers (any JSON value), or the error it threw. */
export type ControlAnswer =
  { ok: true; result: unknown } | { ok: false; error: { name: string; code?: string; message: string } };

/** The most a request line may hold. */
export const MAX_REQUEST_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 10_000;
const MAX_CLIENTS = 16;

/** Starts the control server at `path` (a stale socket file there is replaced; anything else is an error). */
export async function serveControl(
  path: string,
  handle: (request: ControlRequest) => Promise<unknown>,
  options: { readonly requestTimeoutMs?: number } = {},
): Promise<Server> {
  const requestTimeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    const info = lstatSync(path);
    if (!info.isSocket()) throw new CliError('FAILED', `${path} exists and is not a socket`);
    // A socket left by a node that died; a live node would answer, and two nodes must not share a name.
    if (await answers(path)) throw new CliError('FAILED', `a node is already running at ${path}`);
    unlinkSync(path);
  } catch (error) {
    if (error instanceof CliError) throw error;
  }
  const clients = new Set<Socket>();
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    if (clients.size >= MAX_CLIENTS) {
      socket.destroy();
      return;
    }
    clients.add(socket);
    socket.on('close', () => clients.delete(socket));
    socket.on('error', () => undefined);
    // The whole request line must arrive in time (a client trickling bytes is cut off too); answering may
    // take longer (a handshake).
    const deadline = setTimeout(() => socket.destroy(), requestTimeoutMs);
    socket.on('close', () => clearTimeout(deadline));
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_REQUEST_BYTES) {
        socket.end(
          `${JSON.stringify({ ok: false, error: { name: 'CliError', code: 'USAGE', message: 'request too large' } })}\n`,
        );
        socket.destroy();
        return;
      }
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      const line = buffered.slice(0, newline);
      clearTimeout(deadline);
      socket.removeAllListeners('data');
      socket.pause();
      void answer(line, handle).then((reply) => socket.end(`${JSON.stringify(reply)}\n`));
    });
  });
  server.maxConnections = MAX_CLIENTS * 2;
  // The socket is made with the umask's mode: set it so that no other user can connect even for the instant
  // before the chmod below.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(umask);
  }
  chmodSync(path, 0o600);
  server.on('close', () => {
    for (const client of clients) client.destroy();
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  });
  return server;
}

async function answer(
  line: string,
  handle: (request: ControlRequest) => Promise<unknown>,
): Promise<ControlAnswer> {
  let request: ControlRequest;
  try {
    request = JSON.parse(line) as ControlRequest;
    if (typeof request !== 'object' || request === null || typeof request.op !== 'string')
      throw new Error('no op');
  } catch {
    return {
      ok: false,
      error: { name: 'CliError', code: 'USAGE', message: 'a request is one JSON object with an op' },
    };
  }
  try {
    return { ok: true, result: await handle(request) };
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    const code = (err as { code?: unknown }).code;
    const cause = err.cause instanceof Error ? ` (cause: ${err.cause.message})` : '';
    return {
      ok: false,
      error: {
        name: err.name,
        ...(typeof code === 'string' ? { code } : {}),
        message: `${err.message}${cause}`,
      },
    };
  }
}

/** Whether something answers at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sends one request to the node at `path` and returns its result; a failure answer throws. */
export function callControl(path: string, request: ControlRequest, timeoutMs = 30_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new CliError('FAILED', `no answer from the node at ${path} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      text += chunk;
      if (text.length > 16 * 1024 * 1024) socket.destroy(new Error('answer too large'));
    });
    socket.on('error', (cause: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why =
        cause.code === 'ENOENT' || cause.code === 'ECONNREFUSED'
          ? new CliError('NOT_RUNNING', `no node is running at ${path}`, { cause })
          : cause.code === 'EACCES'
            ? new CliError('FAILED', `permission denied on ${path}: it belongs to another user`, { cause })
            : new CliError('FAILED', `cannot talk to the node at ${path}`, { cause });
      reject(why);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      let reply: ControlAnswer;
      try {
        reply = JSON.parse(text) as ControlAnswer;
      } catch (cause) {
        reject(new CliError('FAILED', `the node at ${path} answered something that is not JSON`, { cause }));
        return;
      }
      if (reply.ok) resolve(reply.result);
      else {
        const error = new CliError(
          'FAILED',
          `${reply.error.name}${reply.error.code !== undefined ? ` ${reply.error.code}` : ''}: ${reply.error.message}`,
        );
        reject(error);
      }
    });
  });
}
