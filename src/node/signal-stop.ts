import type { Logger } from './logger';

/** SIGINT and SIGTERM handlers that stop a node gracefully (a second signal exits at once). */
export class SignalStop {
  private handler: (() => void) | undefined;

  constructor(
    private readonly stop: () => void,
    private readonly logger: () => Logger,
  ) {}

  /** Installs the handlers (once). */
  install(): void {
    if (this.handler !== undefined) return;
    let signalled = false;
    this.handler = () => {
      if (signalled) process.exit(130);
      signalled = true;
      this.logger().info({}, 'signal received: stopping the node');
      this.stop();
    };
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  /** Removes them, if installed. */
  remove(): void {
    if (this.handler === undefined) return;
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
    this.handler = undefined;
  }
}
