import { waitFor } from '../helpers/async';
import { Cleanup } from '../helpers/tcp-fixtures';
import { capturedBytes, connectTo, readAll, startEchoServer, startPortal } from './portal-fixtures';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('TCP portal (inlet -> hub -> outlet)', () => {
  it('carries a TCP conversation both ways, and the hub sees none of it', async () => {
    const echo = await startEchoServer(cleanup);
    const portal = await startPortal(cleanup, echo.address);
    const client = await connectTo(cleanup, portal.inlet.address, true);
    const secret = 'SELECT secret_column FROM very_private_table;';
    const reply = readAll(client);
    client.end(secret); // half-close: the echo server still answers, and ends after
    const { bytes, error } = await reply;
    expect(error).toBeUndefined();
    expect(bytes.toString()).toBe(secret);
    await waitFor(() => portal.inlet.stats.sessionsClosed === 1 && portal.outlet.stats.sessionsClosed === 1);
    expect(portal.inlet.stats).toMatchObject({
      sessionsOpened: 1,
      bytesSent: secret.length,
      bytesReceived: secret.length,
      errors: {},
    });
    expect(portal.outlet.stats).toMatchObject({
      sessionsOpened: 1,
      bytesSent: secret.length,
      bytesReceived: secret.length,
      errors: {},
    });
    expect(capturedBytes(portal.proxy).includes(secret)).toBe(false);
    expect(capturedBytes(portal.proxy).includes('very_private')).toBe(false);
  });
});
