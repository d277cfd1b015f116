/**
 * A buffer of its own (never a slice of Node's shared pool, so no other data is reachable through
 * `.buffer`), uninitialised: for buffers whose every byte is written before anyone reads it (frames, socket
 * reads, reassembled messages), skipping the zero fill that a 64 KiB buffer would otherwise pay each time.
 */
export function allocate(size: number): Uint8Array {
  const buffer = Buffer.allocUnsafeSlow(size);
  return new Uint8Array(buffer.buffer, buffer.byteOffset, size);
}
