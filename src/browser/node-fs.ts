// `node:fs` in the browser build (tools/build-browser.mjs): the only reach is loading a trust allow-list from a
// file (`allowListFrom(path)`), which a browser cannot do; it fails plainly instead.
function noFileSystem(): never {
  throw new Error('there is no file system in a browser: build the allow-list with parseIdentifierList');
}
export const readFileSync = noFileSystem;
export const statSync = noFileSystem;
export const writeSync = noFileSystem;
