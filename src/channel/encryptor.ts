import type { Routed } from '../core/message';
import type { Context } from '../node/context';
import type { Worker } from '../node/worker';
import { SecureChannelError } from './errors';
import type { SecureChannel } from './secure-channel';

/**
 * The sending half of a channel end, at the channel's address. It takes messages made by workers of this
 * node only (never from a transport, nor out of another channel, unless `FlowControls` allow it: it would
 * encrypt whatever a network peer asked, under this node's identity), encrypts each together with
 * the rest of its onward route and its return route, and sends the frames to the peer's decryptor. A message
 * it cannot carry (the channel closed, over the size limit) becomes a dead letter (`undeliverable`) saying
 * why. Its handler returns a promise only under backpressure, so a slow route slows its senders down.
 */
export class Encryptor implements Worker {
  constructor(private readonly channel: SecureChannel) {}

  handleMessage(ctx: Context, message: Routed): Promise<void> | undefined {
    // A message from outside (out of another channel, say) is refused unless it came out of this very
    // channel or a flow control allows its producer here: Mallory, who has a channel to this node, cannot
    // have her message encrypted into this node's channel to Carol and pass there as this node's own.
    if (!ctx.admit(message.message, this.channel.address, `secure channel ${this.channel.address.key}`)) {
      return undefined;
    }
    try {
      return this.channel.transmit(message.onwardRoute.stepForward(), message.returnRoute, message.body);
    } catch (error) {
      if (!(error instanceof SecureChannelError)) throw error;
      const code =
        error.code === 'TOO_LARGE'
          ? 'TOO_LARGE'
          : this.channel.closeReason === 'unresponsive'
            ? 'PEER_UNRESPONSIVE'
            : 'CHANNEL_CLOSED';
      ctx.deadLetter(
        'undeliverable',
        `secure channel ${this.channel.address.key} cannot carry it: ${error.message} (${error.code})`,
        message.message,
        { code, cause: this.channel.closeError ?? error },
      );
      return undefined;
    }
  }

  shutdown(): void {
    this.channel.encryptorStopped();
  }
}
