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
    expect(() => resolveTcpOptions({ maxFrameSize: -1 })).toThrow(RangeError);
    expect(() => resolveTcpOptions({ idleTimeoutMs: 1.5 })).toThrow(RangeError);
  });
});
