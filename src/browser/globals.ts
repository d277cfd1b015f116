// Injected into the browser bundle (tools/build-browser.mjs): the Node globals src/ uses, for the bundle only
// (esbuild replaces these names inside it; the page's own globals are untouched).
import { Buffer as BufferPolyfill } from 'buffer';

// `Buffer` from the `buffer` package, with the one encoding src/ needs that it lacks (address tokens).
const toString = BufferPolyfill.prototype.toString;
BufferPolyfill.prototype.toString = function (
  this: BufferPolyfill,
  encoding?: string,
  start?: number,
  end?: number,
) {
  if (encoding !== 'base64url') return toString.call(this, encoding as BufferEncoding, start, end);
  return toString.call(this, 'base64', start, end).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
} as typeof toString;
export const Buffer = BufferPolyfill;

/** A Node-like timer: `unref`, `ref`, `hasRef` and `refresh` over the browser's numeric timers. */
class Timeout {
  id: number;
  constructor(
    private readonly fn: () => void,
    private readonly ms: number,
    private readonly repeat: boolean,
  ) {
    this.id = Number(repeat ? globalThis.setInterval(fn, ms) : globalThis.setTimeout(fn, ms));
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
  hasRef(): boolean {
    return true;
  }
  refresh(): this {
    this.clear();
    this.id = Number(
      this.repeat ? globalThis.setInterval(this.fn, this.ms) : globalThis.setTimeout(this.fn, this.ms),
    );
    return this;
  }
  clear(): void {
    if (this.repeat) globalThis.clearInterval(this.id);
    else globalThis.clearTimeout(this.id);
  }
  [Symbol.toPrimitive](): number {
    return this.id;
  }
}

type Callback = (...args: unknown[]) => void;

function set(repeat: boolean) {
  return (fn: Callback, ms = 0, ...args: unknown[]): Timeout => new Timeout(() => fn(...args), ms, repeat);
}
function clear(timer: Timeout | number | undefined): void {
  if (timer instanceof Timeout) timer.clear();
  else if (timer !== undefined) globalThis.clearTimeout(timer);
}

export const setTimeout = set(false);
export const setInterval = set(true);
export const clearTimeout = clear;
export const clearInterval = clear;

const channel = new MessageChannel();
const immediates: (() => void)[] = [];
(channel.port1 as unknown as { onmessage: () => void }).onmessage = () => immediates.shift()?.();
/** After pending events, before timers: a message to ourselves (a zero timeout is clamped to 4 ms). */
export function setImmediate(fn: Callback, ...args: unknown[]): void {
  immediates.push(() => fn(...args));
  channel.port2.postMessage(0);
}

export const process = {
  env: {} as Record<string, string | undefined>,
  platform: 'browser',
  nextTick: (fn: Callback, ...args: unknown[]): void => queueMicrotask(() => fn(...args)),
};
