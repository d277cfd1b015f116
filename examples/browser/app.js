/* global document, location, window, URLSearchParams */
// Alice in a web page: a Sealroute node on the browser's WebSocket, her identity in an IndexedDB vault, a
// secure channel to Bob through the hub's WebSocket listener, and Bob's echo for every message typed.
// Served with the browser bundle by examples/browser-demo.ts (`npm run demo:browser`).
import {
  ForwardingAddress,
  Identity,
  IndexedDbVault,
  NodeRuntime,
  WS,
  WebSocketTransport,
  createSecureChannel,
  route,
} from './sealroute.browser.js';

const $ = (id) => document.getElementById(id);
const log = (text, kind = 'note') => {
  const line = document.createElement('div');
  line.className = kind;
  line.textContent = text;
  $('log').append(line);
};

const node = new NodeRuntime();
await WebSocketTransport.create(node);
const ctx = node.context('alice');
const vault = await IndexedDbVault.open('alice');
const identity = await Identity.getOrCreate(vault);
$('identity').textContent = identity.identifier;

const query = new URLSearchParams(location.search);
$('hub').value = query.get('hub') ?? '';
$('bob').value = query.get('bob') ?? '';

let channel;

/** Opens the channel to the Bob of `forwardingAddress` through the hub at `hub` (host:port/path). */
async function connect(hub, forwardingAddress) {
  const bob = ForwardingAddress.parse(forwardingAddress);
  channel = await createSecureChannel(ctx, identity, route([WS, hub], bob), {
    trustPolicy: bob.trustPolicy,
    timeout: 10_000,
  });
  log(`[✓] End-to-end encrypted secure channel to ${bob.identifier} established.`);
  $('message').disabled = false;
  return channel.address.toString();
}

/** Sends `text` to Bob's echoer through the channel; resolves with the echo. */
async function send(text, timeout = 5_000) {
  const reply = await ctx.request(route(channel, 'echoer'), text, { timeout });
  log(`Bob echoed: ${reply.body}`, 'echo');
  return reply.body;
}

$('connect').addEventListener('click', () =>
  connect($('hub').value.trim(), $('bob').value).catch((error) =>
    log(`[✗] ${error.code ?? ''} ${error.message}`, 'error'),
  ),
);
$('message').addEventListener('keydown', (event) => {
  if (event.key !== 'Enter' || $('message').value === '') return;
  const text = $('message').value;
  $('message').value = '';
  send(text).catch((error) => log(`[✗] ${error.code ?? ''} ${error.message}`, 'error'));
});

// What the browser test (test/browser) drives, beside the page itself.
window.demo = {
  identifier: identity.identifier,
  connect,
  send,
  stats: () => JSON.parse(JSON.stringify(channel.stats)),
};
log('Ready: paste the hub and Bob’s forwarding address, then open the channel.');
