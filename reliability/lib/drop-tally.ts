/**
 * Every node's share of one-way accounting: the dead letters of one kind of traffic (bodies of at least
 * `minSize` bytes: a flood's numbered messages, or the channel frames that carry them), by sequence number
 * where the body is readable (a numbered plaintext, before a channel encrypted it or after one decrypted
 * it) and as a bare count where it is not (a channel frame dropped by a connection or a hub).
 */
import type { DeadLetter, NodeRuntime } from '../../src';
import { SeqSet, readNumbered } from './numbered';

/** What a tally has counted, as it crosses a process boundary. */
export interface DropCounts {
  /** The sequence numbers of readable numbered messages dead-lettered (base64 bitmap, `SeqSet`). */
  readonly ids: string;
  /** Dead letters of the traffic that could not be read (encrypted frames). */
  readonly opaque: number;
  /** Dead letters by reason (of the traffic only). */
  readonly reasons: Record<string, number>;
}

/** Counts a node's dead letters of bodies of at least `minSize` bytes. */
export class DropTally {
  readonly ids = new SeqSet();
  opaque = 0;
  readonly reasons: Record<string, number> = {};
  private readonly stop: () => void;

  constructor(
    node: NodeRuntime,
    private readonly minSize: number,
  ) {
    node.deadLetters.on('deadLetter', this.onDeadLetter);
    this.stop = () => node.deadLetters.off('deadLetter', this.onDeadLetter);
  }

  counts(): DropCounts {
    return { ids: this.ids.toBase64(), opaque: this.opaque, reasons: { ...this.reasons } };
  }

  close(): void {
    this.stop();
  }

  private readonly onDeadLetter = (letter: DeadLetter): void => {
    const body = letter.message.body;
    if (!(body instanceof Uint8Array) || body.length < this.minSize) return;
    const key = `${letter.reason}:${letter.code}`;
    this.reasons[key] = (this.reasons[key] ?? 0) + 1;
    const read = readNumbered(body);
    if (read === 'corrupt') this.opaque++;
    else this.ids.add(read.seq);
  };
}

/** The commands of a child that tallies its drops: `tallyStart [minSize]`, then `tally` for the counts. */
export function tallyCommands(node: NodeRuntime): Record<string, (args: readonly unknown[]) => unknown> {
  let tally: DropTally | undefined;
  return {
    tallyStart(args) {
      tally?.close();
      tally = new DropTally(node, Number(args[0] ?? 1024));
      return null;
    },
    tally: () => tally?.counts() ?? null,
  };
}
