import type { Logger } from '../../src/node/logger';

/** One line logged through a capturing logger, with the bindings of the child logger it went through. */
export interface LogEntry {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly bindings: Record<string, unknown>;
  readonly obj: object;
  readonly msg: string | undefined;
}

/** A logger that keeps every entry in memory (shared by its children), so tests can assert on logging. */
export class CapturingLogger implements Logger {
  constructor(
    readonly entries: LogEntry[] = [],
    private readonly bindings: Record<string, unknown> = {},
  ) {}

  error(obj: object, msg?: string): void {
    this.entries.push({ level: 'error', bindings: this.bindings, obj, msg });
  }
  warn(obj: object, msg?: string): void {
    this.entries.push({ level: 'warn', bindings: this.bindings, obj, msg });
  }
  info(obj: object, msg?: string): void {
    this.entries.push({ level: 'info', bindings: this.bindings, obj, msg });
  }
  debug(obj: object, msg?: string): void {
    this.entries.push({ level: 'debug', bindings: this.bindings, obj, msg });
  }
  child(bindings: Record<string, unknown>): Logger {
    return new CapturingLogger(this.entries, { ...this.bindings, ...bindings });
  }

  /** Entries of one level. */
  at(level: LogEntry['level']): LogEntry[] {
    return this.entries.filter((entry) => entry.level === level);
  }
}
