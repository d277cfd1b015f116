import { natsKind } from '../helpers/nats-kind';
import { natsServerAvailable, startNatsServer } from '../helpers/nats-server';
import { Cleanup } from '../helpers/tcp-fixtures';
import { streamTransportCompliance } from './stream-compliance';

// The stream compliance suite, over a nats-server this file starts (-p -1, a temporary directory).
const server = new Cleanup();
let url = '';
beforeAll(async () => {
  url = (await startNatsServer(server)).url;
});
afterAll(() => server.run());

if (natsServerAvailable()) streamTransportCompliance(natsKind(() => url));
else it.skip('needs nats-server', () => undefined);
