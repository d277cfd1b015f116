import http from 'node:http';
import { join } from 'node:path';
import { Cleanup } from '../helpers/tcp-fixtures';
import { PG_BIN, programsAvailable, run, startPostgres, startRedis } from './external-servers';
import { capturedBytes, listen, startPortal } from './portal-fixtures';

// Unmodified clients and servers (Debian packages, see .ci/run) through inlet -> hub -> outlet; the hub's
// bytes are recorded by a proxy in front of it and must hold none of what the clients said.

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

function portOf(address: string): string {
  return address.slice(address.lastIndexOf(':') + 1);
}

const hasPostgres = programsAvailable(
  'PostgreSQL portal tests',
  [join(PG_BIN, 'initdb'), join(PG_BIN, 'postgres'), 'psql', 'pgbench'],
  'postgresql-15 postgresql-client-15 (pgbench is in postgresql-contrib on older releases)',
);
const hasRedis = programsAvailable(
  'Redis portal tests',
  ['redis-server', 'redis-cli', 'redis-benchmark'],
  'redis-server redis-tools',
);
const hasCurl = programsAvailable('HTTP portal tests', ['curl'], 'curl');

(hasPostgres ? describe : describe.skip)('PostgreSQL 15 through a portal', () => {
  it('psql runs queries and pgbench runs transactions; the hub sees no SQL', async () => {
    const pg = await startPostgres(cleanup);
    const portal = await startPortal(cleanup, `127.0.0.1:${pg.port}`, { name: 'postgres' });
    const env = { ...process.env, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '20' };
    const connection = ['-h', '127.0.0.1', '-p', portOf(portal.inlet.address), '-U', 'postgres'];
    const psql = (sql: string): Promise<string> =>
      run('psql', [...connection, '-d', 'postgres', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
        env,
      }).then((out) => out.stdout.trim());

    await psql('CREATE TABLE portal_confidential_ledger (id int, secret_note text)');
    await psql(
      "INSERT INTO portal_confidential_ledger VALUES (1, 'launch codes 0000'), (2, 'the cake is a lie')",
    );
    expect(await psql('SELECT secret_note FROM portal_confidential_ledger ORDER BY id')).toBe(
      'launch codes 0000\nthe cake is a lie',
    );
    expect(await psql('SELECT count(*) FROM generate_series(1, 50000)')).toBe('50000');

    await run('pgbench', [...connection, '-i', '-s', '1', '-q', 'postgres'], { env });
    const bench = await run('pgbench', [...connection, '-c', '4', '-j', '2', '-t', '50', 'postgres'], {
      env,
    });
    expect(bench.stdout).toMatch(/number of transactions actually processed: 200\/200/);
    expect(bench.stdout).toMatch(/number of failed transactions: 0/);

    const captured = capturedBytes(portal.proxy);
    for (const text of [
      'portal_confidential_ledger',
      'launch codes',
      'cake is a lie',
      'SELECT',
      'pgbench_accounts',
    ]) {
      expect(captured.includes(text)).toBe(false);
    }
    expect(portal.outlet.stats.sessionsOpened).toBeGreaterThanOrEqual(9);
    expect(portal.outlet.stats.errors).toEqual({});
  });
});

(hasRedis ? describe : describe.skip)('Redis 7 through a portal', () => {
  it('redis-cli sets and gets, redis-benchmark runs GET and SET; the hub sees no key', async () => {
    const redis = await startRedis(cleanup);
    const portal = await startPortal(cleanup, `127.0.0.1:${redis.port}`, { name: 'redis' });
    const cli = (...args: string[]): Promise<string> =>
      run('redis-cli', ['-h', '127.0.0.1', '-p', portOf(portal.inlet.address), ...args]).then((o) =>
        o.stdout.trim(),
      );
    expect(await cli('SET', 'portal:secret:user-42', 'hunter2-password')).toBe('OK');
    expect(await cli('GET', 'portal:secret:user-42')).toBe('hunter2-password');
    expect(await cli('KEYS', 'portal:*')).toBe('portal:secret:user-42');

    const bench = await run('redis-benchmark', [
      '-h',
      '127.0.0.1',
      '-p',
      portOf(portal.inlet.address),
      '-t',
      'set,get',
      '-n',
      '2000',
      '-c',
      '10',
      '-q',
    ]);
    expect(bench.stdout).toMatch(/SET: [\d.]+ requests per second/);
    expect(bench.stdout).toMatch(/GET: [\d.]+ requests per second/);
    // Through the portal, straight from Redis: what redis-benchmark wrote is there.
    expect(await cli('EXISTS', 'key:__rand_int__')).toBe('1');

    const captured = capturedBytes(portal.proxy);
    for (const text of ['portal:secret', 'user-42', 'hunter2', 'key:__rand_int__', 'KEYS']) {
      expect(captured.includes(text)).toBe(false);
    }
    expect(portal.outlet.stats.errors).toEqual({});
  });
});

(hasCurl ? describe : describe.skip)('HTTP through a portal', () => {
  it('many concurrent curls each get their own response', async () => {
    const server = http.createServer((request, response) => {
      response.end(`private page ${request.url} for ${request.headers['x-who'] ?? 'nobody'}`);
    });
    const { address } = await listen(cleanup, server);
    const portal = await startPortal(cleanup, address, { name: 'http' });
    const base = `http://${portal.inlet.address}`;
    // 100 transfers at once from one curl (one connection each), and 8 curl processes beside it.
    const urls = Array.from({ length: 100 }, (_, i) => `${base}/doc-${i}`);
    const parallel = run('curl', [
      '-sS',
      '--fail',
      '--parallel',
      '--parallel-immediate',
      '--parallel-max',
      '100',
      '-H',
      'Connection: close',
      '-H',
      'x-who: alice',
      '-w',
      ' %{http_code}\\n',
      ...urls,
    ]);
    const single = Array.from({ length: 8 }, (_, i) =>
      run('curl', ['-sS', '--fail', '-H', `x-who: process-${i}`, `${base}/single-${i}`]).then(
        (o) => o.stdout,
      ),
    );
    // Bodies and statuses of parallel transfers interleave on curl's output: count them apart.
    const out = (await parallel).stdout;
    const pages = [...out.matchAll(/private page \/doc-(\d+) for alice/g)].map((m) => Number(m[1]));
    expect(pages.sort((a, b) => a - b)).toEqual(urls.map((_, i) => i));
    expect(out.match(/ 200\n/g)).toHaveLength(100);
    const bodies = await Promise.all(single);
    bodies.forEach((body, i) => expect(body).toBe(`private page /single-${i} for process-${i}`));
    expect(portal.outlet.stats.sessionsOpened).toBeGreaterThanOrEqual(100);
    expect(capturedBytes(portal.proxy).includes('private page')).toBe(false);
    expect(capturedBytes(portal.proxy).includes('x-who')).toBe(false);
  });
});
