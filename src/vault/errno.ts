/**
 * The `code` of a Node system error (`ENOENT`, `EEXIST`, ...), or undefined. Duck-typed rather than
 * `instanceof Error`: errors from Node's internals can come from another realm (a vm context, Jest).
 */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
    ? error.code
    : undefined;
}
