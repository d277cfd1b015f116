import { allocate } from './allocate';

/**
 * A bytes body made of parts that lie apart, sent as if they were one: what a secure channel's large frame
 * is (its header, node:crypto's ciphertext output, the tag), so that it is not first copied into one buffer
 * (node:crypto cannot encrypt into a caller's), and what the body of a large frame that spanned socket
 * reads is when it arrives (views of those reads), so that a hub forwards it without a copy. On the wire it
 * is exactly the bytes body of the parts joined (`codecFor` gives it the bytes codec). Only a stream
 * connection (gathering the parts into its write) and a hub's forwarder (passing it on) take it as it is;
 * the router joins it for any other recipient, and dead letters hold it joined, so workers and listeners
 * only ever see a `Uint8Array`. The parts must not change once it is sent.
 */
export class ByteParts {
  /** The total length of the parts. */
  readonly length: number;

  constructor(readonly parts: readonly Uint8Array[]) {
    let length = 0;
    for (const part of parts) length += part.length;
    this.length = length;
  }

  /** The parts in one new array. */
  join(): Uint8Array {
    const out = allocate(this.length);
    let at = 0;
    for (const part of this.parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}
