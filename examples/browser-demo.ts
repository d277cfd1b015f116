// `npm run demo:browser`: the hub (TCP for Bob, WebSocket for the page), Bob, and a static server for the page
// of examples/browser/. Open the printed URL in a browser: Alice's page has the hub and Bob's forwarding
// address filled in; open the channel and type messages, and Bob's echo comes back through the hub.
// Needs the browser bundle: `npm run build` first (the script says so if it is missing).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_BUNDLE_DIR, startBrowserDemo } from './browser/demo';

async function main(): Promise<void> {
  if (!existsSync(join(DEFAULT_BUNDLE_DIR, 'sealroute.browser.js'))) {
    console.error('The browser bundle is missing: run `npm run build` first.');
    process.exit(1);
  }
  const demo = await startBrowserDemo();
  console.log(`Hub listening on ${demo.hubTcp} (TCP) and ws#${demo.hubWs} (WebSocket)`);
  console.log(`Forwarding address for Bob is:\n${demo.forwardingAddress}`);
  console.log(`Open Alice's page: ${demo.url}`);
  const stop = (): void => void demo.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
