/**
 * The NATS permissions of one node's user (the `permissions` block of an `authorization.users` entry in
 * nats-server's configuration, as JSON): it publishes segments to the subjects it may reach (`publishTo`,
 * default every subject under the first token of its own: `sealroute.node.*` for `sealroute.node.bob`) and
 * subscribes to its own subject only, so no node reads what is sent to another (docs/federation.md).
 */
export function natsNodePermissions(
  subject: string,
  publishTo: readonly string[] = [`${subject.split('.').slice(0, -1).join('.') || subject}.*`],
): { publish: { allow: string[] }; subscribe: { allow: string[] } } {
  return { publish: { allow: [...publishTo] }, subscribe: { allow: [subject] } };
}
