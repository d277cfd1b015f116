/**
 * Registrations of bound names in flight at a forwarding service: one at a time per name, in the order
 * they came, while the service's mailbox goes on with other requests. A registration may wait for an
 * admission hook that asks something far away (a federation claims the name in a NATS key-value bucket,
 * which takes seconds while NATS fails over); holding the mailbox for that long stopped every other client's
 * heartbeat at the hub, and those clients then took the hub for dead and registered again, adding to the
 * queue. Beyond `limit` names in flight, `run` waits, and so does the mailbox: the old, bounded behaviour.
 */
export class RegistrationsInFlight {
  private readonly byName = new Map<string, Promise<void>>();

  constructor(
    private readonly limit: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Runs `register` after the earlier registrations of `name`; resolves at once unless `limit` is reached. */
  run(name: string, register: () => Promise<void>): Promise<void> {
    const next = (this.byName.get(name) ?? Promise.resolve()).then(register).catch(this.onError);
    this.byName.set(name, next);
    void next.then(() => {
      if (this.byName.get(name) === next) this.byName.delete(name);
    });
    return this.byName.size > this.limit ? next : Promise.resolve();
  }

  /** Resolves once every registration in flight now has finished. */
  async settled(): Promise<void> {
    await Promise.all(this.byName.values());
  }
}
