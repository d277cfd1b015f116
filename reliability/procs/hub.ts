/**
 * The hub of the reliability programs (examples/hub.ts without decorators): a TCP listener and a
 * forwarding service. Prints `ready {"address"}`. Options: `--listen host:port` (default a free port of
 * 127.0.0.1; a restarted hub passes its predecessor's), `--max-forwarders`, `--max-forwarders-per-connection`,
 * `--max-forwarders-per-source` (every client of these runs is 127.0.0.1), `--reattach-grace-ms` (how long a
 * dead client's random addresses stay reserved).
 * Command: `sample` (memory, handles, connections, forwarders).
 */
import { ForwardingService, NodeRuntime, TcpTransport, FORWARDING_DEFAULTS } from '../../src';
import { tallyCommands } from '../lib/drop-tally';
import { censusCommands, sampleNode } from '../lib/node-sample';
import { childLogger, numberOption, options, runChild, serve } from './serve';

runChild(async () => {
  const args = options({
    listen: { type: 'string', default: '127.0.0.1:0' },
    'max-forwarders': { type: 'string' },
    'max-forwarders-per-connection': { type: 'string' },
    'max-forwarders-per-source': { type: 'string' },
    'reattach-grace-ms': { type: 'string' },
  });
  const node = new NodeRuntime({ logger: childLogger() });
  const tcp = await TcpTransport.create(node);
  const service = await ForwardingService.create(node.context('hub'), 'forwarding_service', {
    maxForwarders: numberOption(args['max-forwarders'], FORWARDING_DEFAULTS.maxForwarders),
    maxForwardersPerConnection: numberOption(
      args['max-forwarders-per-connection'],
      FORWARDING_DEFAULTS.maxForwardersPerConnection,
    ),
    maxForwardersPerSource: numberOption(
      args['max-forwarders-per-source'],
      FORWARDING_DEFAULTS.maxForwardersPerSource,
    ),
    reattachGraceMs: numberOption(args['reattach-grace-ms'], FORWARDING_DEFAULTS.reattachGraceMs),
  });
  const address = await tcp.listen(args.listen);
  serve(
    { address },
    {
      sample: async () => ({
        ...(await sampleNode(node)),
        connections: tcp.connections().length,
        forwarders: service.forwarders().length,
        reserved: service.stats().reserved,
      }),
      ...censusCommands(),
      ...tallyCommands(node),
    },
    () => node.stop(),
  );
});
