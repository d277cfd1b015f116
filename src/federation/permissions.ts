import { subjectOf } from './federation-shared';

/**
 * The NATS permissions of one hub's user (the `permissions` block of an `authorization.users` entry in
 * nats-server's configuration, as JSON): it publishes frames to any hub's subject, heartbeats and the
 * JetStream calls of the bucket of names; it subscribes only to its own subject, the heartbeats and its
 * own reply inbox (`inboxPrefix`, which the hub's client must be given as `client.inboxPrefix`). So no
 * hub can read what is sent to another (docs/federation.md).
 */
export function hubPermissions(
  hub: string,
  options: { prefix?: string; bucket?: string } = {},
): { publish: { allow: string[] }; subscribe: { allow: string[] } } {
  const prefix = options.prefix ?? 'sealroute';
  const bucket = options.bucket ?? 'sealroute-names';
  return {
    publish: {
      allow: [
        `${prefix}.hub.*`,
        `${prefix}.hb`,
        // The bucket's JetStream API: stream info/creation, direct gets, consumers for the watch, writes.
        `$JS.API.INFO`,
        `$JS.API.STREAM.INFO.KV_${bucket}`,
        `$JS.API.STREAM.CREATE.KV_${bucket}`,
        `$JS.API.DIRECT.GET.KV_${bucket}.>`,
        `$JS.API.STREAM.MSG.GET.KV_${bucket}`,
        `$JS.API.CONSUMER.CREATE.KV_${bucket}.>`,
        `$JS.API.CONSUMER.CREATE.KV_${bucket}`,
        `$JS.API.CONSUMER.DELETE.KV_${bucket}.>`,
        `$JS.API.CONSUMER.INFO.KV_${bucket}.>`,
        // The watch is an ordered pull consumer: it asks for the next batch.
        `$JS.API.CONSUMER.MSG.NEXT.KV_${bucket}.>`,
        `$KV.${bucket}.>`,
      ],
    },
    subscribe: { allow: [subjectOf(prefix, hub), `${prefix}.hb`, `${inboxPrefixOf(hub)}.>`] },
  };
}

/** The reply inbox prefix of a hub's NATS client, which only that hub may subscribe to. */
export function inboxPrefixOf(hub: string): string {
  return `_INBOX_${hub}`;
}
