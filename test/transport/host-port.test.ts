import { TransportError } from '../../src/transport/errors';
import { formatHostPort, parseHostPort } from '../../src/transport/tcp/host-port';
import { TCP_DEFAULTS, resolveTcpOptions } from '../../src/transport/tcp/tcp-options';

describe('host:port', () => {
  it.each([
    ['127.0.0.1:4000', { host: '127.0.0.1', port: 4000 }],
    ['localhost:1', { host: 'localhost', port: 1 }],
    ['[::1]:65535', { host: '::1', port: 65535 }],
  ])('parses %s', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
  });

  it.each(['4000', ':4000', 'host:', 'host:port', 'host:65536', '::1:4000', 'host:0', 'a:-1'])(
    'refuses %s with INVALID_ADDRESS',
    (text) => {
      expect(() => parseHostPort(text)).toThrow(TransportError);
      expect(() => parseHostPort(text)).toThrow(expect.objectContaining({ code: 'INVALID_ADDRESS' }));
    },
  );

  it('allows port 0 only for listening', () => {
    expect(parseHostPort('127.0.0.1:0', true)).toEqual({ host: '127.0.0.1', port: 0 });
  });

  it('brackets IPv6 hosts when formatting', () => {
    expect(formatHostPort('::1', 80)).toBe('[::1]:80');
    expect(formatHostPort('10.0.0.1', 80)).toBe('10.0.0.1:80');
  });
});

describe('TcpTransportOptions', () => {
  it('fills in the defaults and checks the limits', () => {
    expect(resolveTcpOptions()).toEqual(TCP_DEFAULTS);
    expect(resolveTcpOptions({ frameTimeoutMs: 5, relayTransportMessages: false })).toMatchObject({
      frameTimeoutMs: 5,
      relayTransportMessages: false,
      idleTimeoutMs: TCP_DEFAULTS.idleTimeoutMs,
    });
  });

  it.each([
    [{ maxFrameSize: -1 }, 'TcpTransportOptions.maxFrameSize must be an integer in 0..4294967295, got -1'],
    [{ maxFrameSize: 2 ** 32 }, 'TcpTransportOptions.maxFrameSize must be an integer in 0..4294967295'],
    [
      { idleTimeoutMs: 1.5 },
      'TcpTransportOptions.idleTimeoutMs must be an integer in 0..2147483647, got 1.5',
    ],
    // A longer delay would make Node's timer fire at once.
    [{ drainTimeoutMs: 2 ** 31 }, 'TcpTransportOptions.drainTimeoutMs must be an integer in 0..2147483647'],
    [
      { maxQueuedBytesPerConnection: 0 },
      'TcpTransportOptions.maxQueuedBytesPerConnection must be an integer in 1..',
    ],
    [
      { relayTransportMessages: 'yes' },
      'TcpTransportOptions.relayTransportMessages must be one of false, true',
    ],
    [
      { maxFrameSize: 1000, maxPartialFrameBytes: 1003 },
      'maxPartialFrameBytes must be at least maxFrameSize + 4',
    ],
  ])('refuses %j with INVALID_OPTION naming the option and its range', (options, message) => {
    let thrown: unknown;
    try {
      resolveTcpOptions(options as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(TransportError);
    expect(thrown).toMatchObject({ code: 'INVALID_OPTION' });
    expect((thrown as Error).message).toContain(message);
  });

  it('keeps the default of an option given as undefined', () => {
    expect(resolveTcpOptions({ idleTimeoutMs: undefined, relayTransportMessages: undefined })).toEqual(
      TCP_DEFAULTS,
    );
  });
});
