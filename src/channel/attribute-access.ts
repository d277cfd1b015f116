import type { LocalMessage, Routed } from '../core/message';
import { parsePolicy, type Attributes } from '../identity';
import type { AccessRule } from '../node/worker';
import { secureChannelPathOf } from './access';

/**
 * The attributes of the end-to-end sender of `message` (the innermost secure channel it came out of on
 * this node), from its credentials still valid now; undefined when it did not come through a channel or its
 * sender presented no credential. Read at the time of the call: an expired credential gives nothing.
 */
export function remoteAttributesOf(message: Routed | LocalMessage): Attributes | undefined {
  const path = secureChannelPathOf(message);
  const credentials = path[path.length - 1]?.identity?.credentials;
  return credentials?.attributes();
}

/** What attribute rules may be told. */
export interface AttributeRuleOptions {
  /** The attributes of the resource (the worker), named `resource.<key>` in a policy expression. */
  readonly resource?: Readonly<Record<string, string>>;
}

/**
 * An access rule that admits a message only if its end-to-end sender (the innermost secure channel on this
 * node) presented a credential, still valid now, whose attributes include every one of `attributes` with
 * exactly that value. Once the credential expires without a refresh, the sender's messages are refused
 * (`ACCESS_DENIED`) at once.
 */
export function requireAttributes(attributes: Readonly<Record<string, string>>): AccessRule {
  const wanted = Object.entries(attributes);
  return {
    name: `requireAttributes(${wanted.map(([key, value]) => `${key}=${value}`).join(', ')})`,
    check: (message) => {
      const verdict = subjectOf(message);
      if (typeof verdict === 'string') return verdict;
      for (const [key, value] of wanted) {
        if (verdict[key] !== value) return `its sender's credentials do not give ${key}=${value}`;
      }
      return true;
    },
  };
}

/**
 * An access rule from a policy expression (see `parsePolicy`), parsed here, once: `subject.<key>` are the
 * end-to-end sender's attributes from its valid credentials (and `subject.identifier` its identifier),
 * `resource.<key>` those given in `options.resource`. Throws `PolicyExpressionError` for a policy that does
 * not parse.
 */
export function requirePolicy(policy: string, options: AttributeRuleOptions = {}): AccessRule {
  const expression = parsePolicy(policy);
  const resource = { ...options.resource };
  return {
    name: `requirePolicy(${policy})`,
    check: (message) => {
      const verdict = subjectOf(message);
      if (typeof verdict === 'string') return verdict;
      return expression.evaluate({ subject: verdict, resource }) || `the policy is false for its sender`;
    },
  };
}

/** The sender's valid attributes plus its identifier, or why there are none. */
function subjectOf(message: LocalMessage): Record<string, string> | string {
  const path = secureChannelPathOf(message);
  const last = path[path.length - 1];
  if (last === undefined) return 'it did not arrive through a secure channel';
  if (last.identity === undefined) return 'its sender is anonymous';
  const credentials = last.identity.credentials;
  if (credentials === undefined || credentials.all.length === 0) return 'its sender presented no credential';
  const attributes = credentials.attributes();
  if (credentials.current().length === 0) return "its sender's credentials have expired";
  return { ...attributes, identifier: last.identity.identifier };
}
