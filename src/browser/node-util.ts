// `node:util` in the browser build (tools/build-browser.mjs): only `inspect.custom` is used in src/, to shape
// what Node's printouts show; the same registered symbol does nothing harmful in a browser.
export const inspect = { custom: Symbol.for('nodejs.util.inspect.custom') };
