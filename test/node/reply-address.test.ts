import { Address, LocalMessage, Route, type Context, type Routed } from '../../src';
import { decodeTransportMessage, encodeTransportMessage } from '../../src/core/wire';
import { ReplyAddress } from '../../src/node/router';
import type { NodeRuntime } from '../../src/node/node-runtime';
import { waitFor, within } from '../helpers/async';
import { newNode, stopNodes } from '../helpers/nodes';

afterEach(stopNodes);

/** A reply address's value: `~r.`, the slot in base 36, a dot, 96 CSPRNG bits in base64url. */
const REPLY_VALUE = /^~r\.([0-9a-z]+)\.([A-Za-z0-9_-]{16})$/;

/** A node whose worker `holder` keeps every request it is sent, unanswered. */
async function holdingNode(): Promise<{ node: NodeRuntime; held: Routed[] }> {
  const node = newNode();
  const held: Routed[] = [];
  await node.startWorker('holder', {
    handleMessage: (_ctx: Context, message: Routed) => {
      held.push(message);
    },
  });
  return { node, held };
}

/** The reply address a held request carries. */
function replyAddressOf(message: Routed): ReplyAddress {
  const address = message.returnRoute.next;
  expect(address).toBeInstanceOf(ReplyAddress);
  return address as ReplyAddress;
}

/** A message to `value` as it comes off a wire: a new Address object, decoded from its bytes. */
function toDecoded(value: string, body: unknown): LocalMessage {
  return new LocalMessage(Route.of([Address.decoded(0, value, value.length)]), Route.EMPTY, body);
}

describe('reply addresses', () => {
  it('are drawn when they leave the node, and a reply to the decoded address reaches the request', async () => {
    const node = newNode();
    const sawUndrawn: boolean[] = [];
    await node.startWorker('wire-echoer', {
      handleMessage: (ctx: Context, message: Routed) => {
        sawUndrawn.push(!replyAddressOf(message).drawn);
        // Across a "wire": the reply address is encoded into bytes, and the reply goes to what decodes.
        const bytes = encodeTransportMessage({
          onwardRoute: message.returnRoute,
          returnRoute: Route.EMPTY,
          payload: new Uint8Array([7]),
        });
        const decoded = decodeTransportMessage(bytes, undefined, false);
        const hop = decoded.onwardRoute.next!;
        expect(hop).not.toBeInstanceOf(ReplyAddress);
        expect(hop.value).toMatch(REPLY_VALUE);
        expect(hop.equals(message.returnRoute.next!)).toBe(true);
        return ctx.forward(new LocalMessage(decoded.onwardRoute, Route.EMPTY, message.body));
      },
    });
    const ctx = node.context();
    for (const body of ['first', 'second']) {
      const reply = await within(ctx.request('wire-echoer', body, { timeout: 5_000 }), 10_000);
      expect(reply.body).toBe(body);
    }
    expect(sawUndrawn).toEqual([true, true]);
  });

  it('answered on their own node, are never drawn', async () => {
    const node = newNode();
    const seen: ReplyAddress[] = [];
    await node.startWorker('echoer', {
      handleMessage: (ctx: Context, message: Routed) => {
        seen.push(replyAddressOf(message));
        return ctx.send(message.returnRoute, message.body);
      },
    });
    const ctx = node.context();
    for (let i = 0; i < 3; i++) expect((await within(ctx.request('echoer', i), 10_000)).body).toBe(i);
    expect(seen.map((address) => address.drawn)).toEqual([false, false, false]);
  });

  it('never collide: each has its own slot and its own random part, stable once drawn', async () => {
    const { node, held } = await holdingNode();
    const ctx = node.context();
    const count = 2_000;
    const pending = Array.from({ length: count }, (_, i) =>
      ctx.request('holder', i, { timeout: 60_000 }).catch((err: unknown) => err),
    );
    await waitFor(() => held.length === count, 10_000, 'every request held');
    const addresses = held.map(replyAddressOf);
    expect(addresses.some((address) => address.drawn)).toBe(false);
    const values = addresses.map((address) => address.value);
    const parts = values.map((value) => REPLY_VALUE.exec(value));
    expect(parts.every((part) => part !== null)).toBe(true);
    expect(new Set(values).size).toBe(count);
    expect(new Set(parts.map((part) => part![1])).size).toBe(count);
    expect(new Set(parts.map((part) => part![2])).size).toBe(count);
    expect(new Set(addresses.map((address) => address.key)).size).toBe(count);
    for (let i = 1; i < count; i++) {
      expect(addresses[i]!.equals(addresses[i - 1]!)).toBe(false);
      expect(addresses[i]).not.toEqual(addresses[i - 1]);
    }
    // Drawn once: reading again gives the same value, key and text form.
    expect(addresses.map((address) => address.value)).toEqual(values);
    expect(addresses.map((address) => address.key)).toEqual(values.map((value) => `0#${value}`));
    expect(String(addresses[0])).toBe(`0#${values[0]}`);
    // Answer them all through their decoded values: each reply reaches its own request.
    for (let i = 0; i < count; i++) node.dispatch(toDecoded(values[i]!, `reply ${held[i]!.body}`));
    const replies = (await within(Promise.all(pending), 10_000)) as Routed[];
    expect(replies.map((reply) => reply.body)).toEqual(held.map((message) => `reply ${message.body}`));
  });

  it('are not reached by a guessed value, drawn or not', async () => {
    const { node, held } = await holdingNode();
    const ctx = node.context();
    // Settles either way, so a failed expectation below does not leave a rejection unhandled.
    const pending = ctx.request('holder', 'q', { timeout: 60_000 }).catch((err: unknown) => err);
    await waitFor(() => held.length === 1, 10_000, 'the request held');
    const address = replyAddressOf(held[0]!);
    const slot = address.slot.toString(36);
    const guess = (token: string): string => node.dispatch(toDecoded(`~r.${slot}.${token}`, 'forged')).status;

    // Not drawn yet: no value exists that anyone could have seen, and guessing does not draw one.
    expect(guess('AAAAAAAAAAAAAAAA')).toBe('refused');
    expect(guess(Buffer.alloc(12, 0xff).toString('base64url'))).toBe('refused');
    expect(address.drawn).toBe(false);
    expect(node.deadLetters.last?.reason).toBe('no-route');

    // Drawn (it left the node): only the exact value reaches the slot, not one differing in a character.
    const token = REPLY_VALUE.exec(address.value)![2]!;
    const flipped = token.slice(0, 15) + (token[15] === 'A' ? 'B' : 'A');
    expect(guess(flipped)).toBe('refused');
    expect(guess(token.slice(0, 15))).toBe('refused');
    expect(guess(`${token}A`)).toBe('refused');
    expect(node.dispatch(toDecoded(`~r.${(address.slot + 1).toString(36)}.${token}`, 'x')).status).toBe(
      'refused',
    );
    expect(node.dispatch(toDecoded(address.value, 'real')).status).toBe('queued');
    expect(((await within(pending, 10_000)) as Routed).body).toBe('real');
    // Answered: the slot is gone, and the same value reaches nothing.
    expect(node.dispatch(toDecoded(address.value, 'replayed')).status).toBe('refused');
  });
});
