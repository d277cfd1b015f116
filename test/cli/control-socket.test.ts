import { spawnSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { request } from 'node:http';
import { callControl, serveControl, MAX_REQUEST_BYTES } from '../../src/cli/control-socket';
import { serveMetrics } from '../../src/cli/metrics-server';
import { nodeMetrics } from '../../src';
import { newNode, stopNodes } from '../helpers/nodes';
import { scaled } from '../helpers/slowdown';
import { scratchDir } from './cli-process';

const scratch = scratchDir();
afterAll(() => scratch.cleanup());
afterEach(stopNodes);

/** Writes `bytes` raw to the socket at `path`; resolves with what came back before it closed. */
function raw(path: string, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(path);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.on('connect', () => socket.write(bytes));
  });
}

describe('the control socket', () => {
  it('answers requests, and refuses oversized, malformed and unknown ones with a typed answer', async () => {
    const path = join(scratch.dir, 'a.sock');
    const server = await serveControl(path, async (req) => {
      if (req.op === 'status') return { fine: true };
      throw Object.assign(new Error('unknown op'), { code: 'USAGE' });
    });
    try {
      expect(await callControl(path, { op: 'status' })).toEqual({ fine: true });
      await expect(callControl(path, { op: 'nope' } as never)).rejects.toThrow(/Error USAGE: unknown op/);
      const huge = await raw(path, Buffer.alloc(MAX_REQUEST_BYTES + 10, 'a'));
      expect(JSON.parse(huge)).toMatchObject({
        ok: false,
        error: { code: 'USAGE', message: 'request too large' },
      });
      const malformed = await raw(path, 'not json\n');
      expect(JSON.parse(malformed)).toMatchObject({ ok: false, error: { code: 'USAGE' } });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('cuts off a client that does not finish its request in time, and serves others meanwhile', async () => {
    const path = join(scratch.dir, 'b.sock');
    const server = await serveControl(path, async () => 'ok', { requestTimeoutMs: 300 });
    try {
      const started = Date.now();
      const stalled = raw(path, '{"op":'); // never finishes its line
      expect(await callControl(path, { op: 'status' })).toBe('ok');
      expect(await stalled).toBe('');
      expect(Date.now() - started).toBeLessThan(scaled(5_000));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('refuses to start over a live node, and replaces a stale socket file', async () => {
    const path = join(scratch.dir, 'c.sock');
    const first = await serveControl(path, async () => 'first');
    try {
      await expect(serveControl(path, async () => 'second')).rejects.toThrow(/already running/);
    } finally {
      await new Promise((resolve) => first.close(resolve));
    }
    // A node killed outright leaves its socket file behind: the next start replaces it.
    const stale = join(scratch.dir, 'd.sock');
    const killed = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(killed.signal).toBe('SIGKILL');
    expect(lstatSync(stale).isSocket()).toBe(true);
    const second = await serveControl(stale, async () => 'second');
    try {
      expect(await callControl(stale, { op: 'status' })).toBe('second');
    } finally {
      await new Promise((resolve) => second.close(resolve));
    }
  });
});

describe('the metrics endpoint', () => {
  it('refuses oversized headers and request bodies', async () => {
    const node = newNode();
    const server = await serveMetrics(
      {
        metrics: nodeMetrics(node),
        snapshot: () => node.metrics(),
        healthy: () => true,
        ready: () => ({ ready: false, reason: 'starting' }),
      },
      '127.0.0.1',
      0,
    );
    const port = (server.address() as { port: number }).port;
    const status = (
      options: { method?: string; headers?: Record<string, string>; path?: string },
      body?: string,
    ): Promise<number> =>
      new Promise((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port,
            path: options.path ?? '/metrics',
            method: options.method ?? 'GET',
            headers: options.headers,
          },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    try {
      expect(await status({})).toBe(200);
      expect(await status({ headers: { 'x-big': 'a'.repeat(16 * 1024) } })).toBe(431);
      expect(await status({ method: 'GET', headers: { 'content-length': '5' } }, 'hello')).toBe(413);
      expect(await status({ path: '/readyz' })).toBe(503);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
